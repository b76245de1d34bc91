// Original file: protocols/conclave.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DownloadModelRequest as _conclave_v1_DownloadModelRequest, DownloadModelRequest__Output as _conclave_v1_DownloadModelRequest__Output } from '../../conclave/v1/DownloadModelRequest.ts';
import type { DownloadStageTensorRequest as _conclave_v1_DownloadStageTensorRequest, DownloadStageTensorRequest__Output as _conclave_v1_DownloadStageTensorRequest__Output } from '../../conclave/v1/DownloadStageTensorRequest.ts';
import type { GetTaskRequest as _conclave_v1_GetTaskRequest, GetTaskRequest__Output as _conclave_v1_GetTaskRequest__Output } from '../../conclave/v1/GetTaskRequest.ts';
import type { GetTaskResponse as _conclave_v1_GetTaskResponse, GetTaskResponse__Output as _conclave_v1_GetTaskResponse__Output } from '../../conclave/v1/GetTaskResponse.ts';
import type { ModelStreamMessage as _conclave_v1_ModelStreamMessage, ModelStreamMessage__Output as _conclave_v1_ModelStreamMessage__Output } from '../../conclave/v1/ModelStreamMessage.ts';
import type { ResumeStageRequest as _conclave_v1_ResumeStageRequest, ResumeStageRequest__Output as _conclave_v1_ResumeStageRequest__Output } from '../../conclave/v1/ResumeStageRequest.ts';
import type { ResumeStageResponse as _conclave_v1_ResumeStageResponse, ResumeStageResponse__Output as _conclave_v1_ResumeStageResponse__Output } from '../../conclave/v1/ResumeStageResponse.ts';
import type { StageStreamMessage as _conclave_v1_StageStreamMessage, StageStreamMessage__Output as _conclave_v1_StageStreamMessage__Output } from '../../conclave/v1/StageStreamMessage.ts';
import type { StageTensorMessage as _conclave_v1_StageTensorMessage, StageTensorMessage__Output as _conclave_v1_StageTensorMessage__Output } from '../../conclave/v1/StageTensorMessage.ts';
import type { SubmitStageResponse as _conclave_v1_SubmitStageResponse, SubmitStageResponse__Output as _conclave_v1_SubmitStageResponse__Output } from '../../conclave/v1/SubmitStageResponse.ts';

export interface ParticipantServiceClient extends grpc.Client {
  DownloadModel(argument: _conclave_v1_DownloadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_ModelStreamMessage__Output>;
  DownloadModel(argument: _conclave_v1_DownloadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_ModelStreamMessage__Output>;
  downloadModel(argument: _conclave_v1_DownloadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_ModelStreamMessage__Output>;
  downloadModel(argument: _conclave_v1_DownloadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_ModelStreamMessage__Output>;
  
  DownloadStageTensor(argument: _conclave_v1_DownloadStageTensorRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_StageTensorMessage__Output>;
  DownloadStageTensor(argument: _conclave_v1_DownloadStageTensorRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_StageTensorMessage__Output>;
  downloadStageTensor(argument: _conclave_v1_DownloadStageTensorRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_StageTensorMessage__Output>;
  downloadStageTensor(argument: _conclave_v1_DownloadStageTensorRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_StageTensorMessage__Output>;
  
  GetTask(argument: _conclave_v1_GetTaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_GetTaskResponse__Output>): grpc.ClientUnaryCall;
  GetTask(argument: _conclave_v1_GetTaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_GetTaskResponse__Output>): grpc.ClientUnaryCall;
  GetTask(argument: _conclave_v1_GetTaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_GetTaskResponse__Output>): grpc.ClientUnaryCall;
  GetTask(argument: _conclave_v1_GetTaskRequest, callback: grpc.requestCallback<_conclave_v1_GetTaskResponse__Output>): grpc.ClientUnaryCall;
  getTask(argument: _conclave_v1_GetTaskRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_GetTaskResponse__Output>): grpc.ClientUnaryCall;
  getTask(argument: _conclave_v1_GetTaskRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_GetTaskResponse__Output>): grpc.ClientUnaryCall;
  getTask(argument: _conclave_v1_GetTaskRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_GetTaskResponse__Output>): grpc.ClientUnaryCall;
  getTask(argument: _conclave_v1_GetTaskRequest, callback: grpc.requestCallback<_conclave_v1_GetTaskResponse__Output>): grpc.ClientUnaryCall;
  
  ResumeStage(argument: _conclave_v1_ResumeStageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ResumeStageResponse__Output>): grpc.ClientUnaryCall;
  ResumeStage(argument: _conclave_v1_ResumeStageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ResumeStageResponse__Output>): grpc.ClientUnaryCall;
  ResumeStage(argument: _conclave_v1_ResumeStageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ResumeStageResponse__Output>): grpc.ClientUnaryCall;
  ResumeStage(argument: _conclave_v1_ResumeStageRequest, callback: grpc.requestCallback<_conclave_v1_ResumeStageResponse__Output>): grpc.ClientUnaryCall;
  resumeStage(argument: _conclave_v1_ResumeStageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ResumeStageResponse__Output>): grpc.ClientUnaryCall;
  resumeStage(argument: _conclave_v1_ResumeStageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ResumeStageResponse__Output>): grpc.ClientUnaryCall;
  resumeStage(argument: _conclave_v1_ResumeStageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ResumeStageResponse__Output>): grpc.ClientUnaryCall;
  resumeStage(argument: _conclave_v1_ResumeStageRequest, callback: grpc.requestCallback<_conclave_v1_ResumeStageResponse__Output>): grpc.ClientUnaryCall;
  
  SubmitStage(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_SubmitStageResponse__Output>): grpc.ClientWritableStream<_conclave_v1_StageStreamMessage>;
  SubmitStage(metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_SubmitStageResponse__Output>): grpc.ClientWritableStream<_conclave_v1_StageStreamMessage>;
  SubmitStage(options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_SubmitStageResponse__Output>): grpc.ClientWritableStream<_conclave_v1_StageStreamMessage>;
  SubmitStage(callback: grpc.requestCallback<_conclave_v1_SubmitStageResponse__Output>): grpc.ClientWritableStream<_conclave_v1_StageStreamMessage>;
  submitStage(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_SubmitStageResponse__Output>): grpc.ClientWritableStream<_conclave_v1_StageStreamMessage>;
  submitStage(metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_SubmitStageResponse__Output>): grpc.ClientWritableStream<_conclave_v1_StageStreamMessage>;
  submitStage(options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_SubmitStageResponse__Output>): grpc.ClientWritableStream<_conclave_v1_StageStreamMessage>;
  submitStage(callback: grpc.requestCallback<_conclave_v1_SubmitStageResponse__Output>): grpc.ClientWritableStream<_conclave_v1_StageStreamMessage>;
  
}

export interface ParticipantServiceHandlers extends grpc.UntypedServiceImplementation {
  DownloadModel: grpc.handleServerStreamingCall<_conclave_v1_DownloadModelRequest__Output, _conclave_v1_ModelStreamMessage>;
  
  DownloadStageTensor: grpc.handleServerStreamingCall<_conclave_v1_DownloadStageTensorRequest__Output, _conclave_v1_StageTensorMessage>;
  
  GetTask: grpc.handleUnaryCall<_conclave_v1_GetTaskRequest__Output, _conclave_v1_GetTaskResponse>;
  
  ResumeStage: grpc.handleUnaryCall<_conclave_v1_ResumeStageRequest__Output, _conclave_v1_ResumeStageResponse>;
  
  SubmitStage: grpc.handleClientStreamingCall<_conclave_v1_StageStreamMessage__Output, _conclave_v1_SubmitStageResponse>;
  
}

export interface ParticipantServiceDefinition extends grpc.ServiceDefinition {
  DownloadModel: MethodDefinition<_conclave_v1_DownloadModelRequest, _conclave_v1_ModelStreamMessage, _conclave_v1_DownloadModelRequest__Output, _conclave_v1_ModelStreamMessage__Output>
  DownloadStageTensor: MethodDefinition<_conclave_v1_DownloadStageTensorRequest, _conclave_v1_StageTensorMessage, _conclave_v1_DownloadStageTensorRequest__Output, _conclave_v1_StageTensorMessage__Output>
  GetTask: MethodDefinition<_conclave_v1_GetTaskRequest, _conclave_v1_GetTaskResponse, _conclave_v1_GetTaskRequest__Output, _conclave_v1_GetTaskResponse__Output>
  ResumeStage: MethodDefinition<_conclave_v1_ResumeStageRequest, _conclave_v1_ResumeStageResponse, _conclave_v1_ResumeStageRequest__Output, _conclave_v1_ResumeStageResponse__Output>
  SubmitStage: MethodDefinition<_conclave_v1_StageStreamMessage, _conclave_v1_SubmitStageResponse, _conclave_v1_StageStreamMessage__Output, _conclave_v1_SubmitStageResponse__Output>
}
