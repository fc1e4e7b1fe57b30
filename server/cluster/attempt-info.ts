import type { Attempt } from '../attempt.js';
import type { Member } from '../member-connections.js';
import type { AttemptInfo } from './bus.js';

/** What the coordinator tells its edges about a plain attempt: its round start, bounds and the cohort's box keys. */
export function attemptInfo(open: Attempt, members: ReadonlyMap<string, Member>): AttemptInfo {
  const cohort: AttemptInfo['cohort'] = [];
  for (const clientId of open.cohort) {
    const member = members.get(clientId);
    if (member) cohort.push({ clientId, boxPublicKey: Buffer.from(member.boxPublicKey).toString('base64url') });
  }
  return { round: open.round, attemptId: open.attemptId, deadline: open.deadline, start: open.start, policy: { ...open.policy }, cohort };
}
