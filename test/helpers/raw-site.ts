import * as grpc from '@grpc/grpc-js';
import { bearerMetadata, fromServiceError, type ConclaveError, type GetTaskResponseMsg, type RoundPlanMsg, type SubmitStageResponseMsg, type StageStreamMsg, type ParticipantClient } from '../../protocols/index.ts';
import { getTask, participantClient } from '../../client-sdk/connection.ts';

/** Sends arbitrary stage-stream messages, well-formed or not, to exercise the coordinator's edge. */
export function rawSubmit(client: ParticipantClient, token: string | null, messages: StageStreamMsg[]): Promise<SubmitStageResponseMsg> {
  return new Promise((resolve, reject) => {
    const stream = client.SubmitStage(token ? bearerMetadata(token) : new grpc.Metadata(), (err, res) => (err || !res ? reject(err) : resolve(res)));
    for (const m of messages) stream.write(m);
    stream.end();
  });
}

export async function expectGrpcError(promise: Promise<unknown>): Promise<{ status: number; code: ConclaveError['code']; details: string }> {
  try {
    await promise;
  } catch (err) {
    const known = fromServiceError(err);
    const raw = known.cause as Partial<grpc.ServiceError> | undefined;
    return { status: typeof raw?.code === 'number' ? raw.code : known.grpcStatus, code: known.code, details: known.message };
  }
  throw new Error('expected the call to fail');
}

/** Polls for every site at once until each has a round plan (a round opens once all sites are available). */
export async function plansFor(address: string, tokens: string[]): Promise<RoundPlanMsg[]> {
  const client = participantClient(address);
  try {
    return await Promise.all(tokens.map(async (token) => {
      for (let i = 0; i < 100; i++) {
        const task: GetTaskResponseMsg = await getTask(client, token, 2000);
        if (task.task === 'round') return task.round;
      }
      throw new Error('no round plan');
    }));
  } finally {
    client.close();
  }
}
