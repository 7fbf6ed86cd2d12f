/** The module registry: module name → implementation. Names not here run `unavailableModule`. */
import type { PivotModule } from '../context.js';
import { answerModule } from './answer.js';
import { collectDtmfModule } from './collect-dtmf.js';
import { flushDtmfModule } from './flush-dtmf.js';
import { hangupModule } from './hangup.js';
import { languageModule } from './language.js';
import { noopModule } from './noop.js';
import { pivotModule } from './pivot.js';
import { playModule } from './play.js';
import { prependCidModule } from './prepend-cid.js';
import { responseModule } from './response.js';
import { sendDtmfModule } from './send-dtmf.js';
import { setCidModule } from './set-cid.js';
import { sleepModule } from './sleep.js';
import { ttsModule } from './tts.js';
import { unavailableModule } from './unavailable.js';
import { waitForHangupModule } from './wait-for-hangup.js';
import { menuModule } from './menu.js';
import { temporalRouteModule } from './temporal-route.js';
import { webhookModule } from './webhook.js';
import { twimlGatherModule } from './twiml-gather.js';
import { resourcesModule } from './resources.js';
import { deviceModule } from './device.js';
import { userModule } from './user.js';
import { groupModule, ringGroupModule } from './ring-group.js';
import { conferenceModule } from './conference.js';
import { recordCallModule } from './record-call.js';
import { recordCallerModule } from './record-caller.js';
import { twimlRecordModule } from './twiml-record.js';
import { twimlDialModule } from './twiml-dial.js';

export const MODULES: ReadonlyMap<string, PivotModule> = new Map<string, PivotModule>([
  ['pivot', pivotModule],
  ['tts', ttsModule],
  ['say', ttsModule],
  ['play', playModule],
  ['collect_dtmf', collectDtmfModule],
  ['hangup', hangupModule],
  ['sleep', sleepModule],
  ['answer', answerModule],
  ['noop', noopModule],
  ['response', responseModule],
  ['language', languageModule],
  ['flush_dtmf', flushDtmfModule],
  ['set_cid', setCidModule],
  ['prepend_cid', prependCidModule],
  ['send_dtmf', sendDtmfModule],
  ['wait_for_hangup', waitForHangupModule],
  ['menu', menuModule],
  ['temporal_route', temporalRouteModule],
  ['webhook', webhookModule],
  // Internal: what TwiML <Gather> translates to (the validator never accepts it from a script).
  ['twiml_gather', twimlGatherModule],
  ['resources', resourcesModule],
  ['offnet', resourcesModule],
  ['device', deviceModule],
  ['user', userModule],
  ['ring_group', ringGroupModule],
  ['group', groupModule],
  ['conference', conferenceModule],
  ['record_call', recordCallModule],
  ['record_caller', recordCallerModule],
  // Internal: what TwiML <Record> translates to.
  ['twiml_record', twimlRecordModule],
  // Internal: what TwiML <Dial> translates to.
  ['twiml_dial', twimlDialModule],
]);

export function moduleFor(name: string, registry: ReadonlyMap<string, PivotModule> = MODULES): PivotModule {
  return registry.get(name) ?? unavailableModule;
}
