/** E.164 normalisation, carrier formats and SIP status → hangup cause. */
import t from 'tap';
import { causeForStatus, formatForCarrier, isGatewayFailure, toE164 } from '../../src/pbx/numbers.js';

const e164: Array<[string, string]> = [
  ['+14158867900', '+14158867900'],
  ['14158867900', '+14158867900'],
  ['4158867900', '+14158867900'],
  ['(415) 886-7900', '+14158867900'],
  ['011442071234567', '+442071234567'],
  ['00442071234567', '+442071234567'],
  ['442071234567', '+442071234567'],
  ['+442071234567', '+442071234567'],
  ['2001', '2001'],
  ['*97', '*97'],
  ['0123', '0123'],
];
for (const [input, want] of e164) t.test(`toE164 ${input}`, async (t) => { t.equal(toE164(input), want); });

t.test('carrier formats', async (t) => {
  t.equal(formatForCarrier('+14158867900', 'e164'), '+14158867900');
  t.equal(formatForCarrier('+14158867900', 'npan'), '4158867900');
  t.equal(formatForCarrier('+14158867900', '1npan'), '14158867900');
  t.equal(formatForCarrier('+442071234567', 'international'), '00442071234567');
  t.equal(formatForCarrier('2001', 'npan'), '2001', 'not E.164: unchanged');
});

t.test('causes and failover', async (t) => {
  const want: Array<[number, string]> = [
    [486, 'USER_BUSY'], [600, 'USER_BUSY'], [404, 'UNALLOCATED_NUMBER'], [603, 'CALL_REJECTED'], [403, 'CALL_REJECTED'],
    [480, 'NO_USER_RESPONSE'], [487, 'ORIGINATOR_CANCEL'], [408, 'RECOVERY_ON_TIMER_EXPIRE'], [503, 'NORMAL_TEMPORARY_FAILURE'],
    [484, 'INVALID_NUMBER_FORMAT'], [488, 'INCOMPATIBLE_DESTINATION'], [502, 'NETWORK_OUT_OF_ORDER'], [499, 'NORMAL_UNSPECIFIED'],
  ];
  for (const [s, c] of want) t.equal(causeForStatus(s), c, String(s));
  for (const s of [408, 500, 503, 504]) t.ok(isGatewayFailure(s), `${s} fails over`);
  for (const s of [404, 486, 487, 603]) t.notOk(isGatewayFailure(s), `${s} does not`);
});
