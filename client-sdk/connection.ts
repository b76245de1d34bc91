/**
 * The SDK's gRPC helpers. They carry no tfjs and the operator's CLI uses them too, so they live in
 * protocols/client.ts; they are re-exported here for SDK users.
 */
export {
  DownloadProgress, UploadProgress, adminClient, callUnary, downloadModel, downloadStageTensor, getTask, participantClient, submitStage, submitUpdate,
  type ClientTls, type DownloadedModel, type StageSubmission,
} from '../protocols/client.ts';
