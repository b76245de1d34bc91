/**
 * How a Participant talks to the coordinator: four calls. gRPC in production; tests pass an
 * in-memory transport that calls the coordinator's participant endpoint directly, so a whole round
 * runs in one process without sockets.
 */
import type { GetTaskResponseMsg, StageTaskMsg, SubmitStageResponseMsg, TypedTensor } from '../protocols/index.ts';
import { DownloadProgress, UploadProgress, downloadModel, downloadStageTensor, getTask, participantClient, submitStage, type ClientTls, type DownloadedModel, type StageSubmission } from './connection.ts';

export interface ParticipantTransport {
  getTask(waitMs: number): Promise<GetTaskResponseMsg>;
  downloadModel(request: { federationId: string; version: number }): Promise<DownloadedModel>;
  submitStage(message: StageSubmission): Promise<SubmitStageResponseMsg>;
  /** The tensor a stage task announced (task.tensor), streamed and checked against that header. */
  downloadStageTensor(task: StageTaskMsg): Promise<TypedTensor>;
  close(): void;
}

export function grpcTransport(address: string, token: string, tls?: ClientTls): ParticipantTransport {
  const client = participantClient(address, tls);
  // The Participant retries a call that failed with UNAVAILABLE with the same request (the same
  // message object for uploads): these carry what the cut attempt got through, so the retry resumes.
  const download = new DownloadProgress();
  const upload = new UploadProgress();
  return {
    getTask: (waitMs) => getTask(client, token, waitMs),
    downloadModel: (request) => downloadModel(client, token, request, download),
    submitStage: (message) => submitStage(client, token, message, upload),
    downloadStageTensor: (task) => downloadStageTensor(client, token, task),
    close: () => client.close(),
  };
}
