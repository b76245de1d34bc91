// Original file: protocols/conclave.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AbortRoundRequest as _conclave_v1_AbortRoundRequest, AbortRoundRequest__Output as _conclave_v1_AbortRoundRequest__Output } from '../../conclave/v1/AbortRoundRequest.ts';
import type { CreateFederationMessage as _conclave_v1_CreateFederationMessage, CreateFederationMessage__Output as _conclave_v1_CreateFederationMessage__Output } from '../../conclave/v1/CreateFederationMessage.ts';
import type { DownloadModelRequest as _conclave_v1_DownloadModelRequest, DownloadModelRequest__Output as _conclave_v1_DownloadModelRequest__Output } from '../../conclave/v1/DownloadModelRequest.ts';
import type { EnrollSiteRequest as _conclave_v1_EnrollSiteRequest, EnrollSiteRequest__Output as _conclave_v1_EnrollSiteRequest__Output } from '../../conclave/v1/EnrollSiteRequest.ts';
import type { EnrollSiteResponse as _conclave_v1_EnrollSiteResponse, EnrollSiteResponse__Output as _conclave_v1_EnrollSiteResponse__Output } from '../../conclave/v1/EnrollSiteResponse.ts';
import type { Federation as _conclave_v1_Federation, Federation__Output as _conclave_v1_Federation__Output } from '../../conclave/v1/Federation.ts';
import type { FederationEvent as _conclave_v1_FederationEvent, FederationEvent__Output as _conclave_v1_FederationEvent__Output } from '../../conclave/v1/FederationEvent.ts';
import type { GetFederationRequest as _conclave_v1_GetFederationRequest, GetFederationRequest__Output as _conclave_v1_GetFederationRequest__Output } from '../../conclave/v1/GetFederationRequest.ts';
import type { GetLedgerRequest as _conclave_v1_GetLedgerRequest, GetLedgerRequest__Output as _conclave_v1_GetLedgerRequest__Output } from '../../conclave/v1/GetLedgerRequest.ts';
import type { GetLedgerResponse as _conclave_v1_GetLedgerResponse, GetLedgerResponse__Output as _conclave_v1_GetLedgerResponse__Output } from '../../conclave/v1/GetLedgerResponse.ts';
import type { ListFederationsRequest as _conclave_v1_ListFederationsRequest, ListFederationsRequest__Output as _conclave_v1_ListFederationsRequest__Output } from '../../conclave/v1/ListFederationsRequest.ts';
import type { ListFederationsResponse as _conclave_v1_ListFederationsResponse, ListFederationsResponse__Output as _conclave_v1_ListFederationsResponse__Output } from '../../conclave/v1/ListFederationsResponse.ts';
import type { ListModelsRequest as _conclave_v1_ListModelsRequest, ListModelsRequest__Output as _conclave_v1_ListModelsRequest__Output } from '../../conclave/v1/ListModelsRequest.ts';
import type { ListModelsResponse as _conclave_v1_ListModelsResponse, ListModelsResponse__Output as _conclave_v1_ListModelsResponse__Output } from '../../conclave/v1/ListModelsResponse.ts';
import type { ListRoundsRequest as _conclave_v1_ListRoundsRequest, ListRoundsRequest__Output as _conclave_v1_ListRoundsRequest__Output } from '../../conclave/v1/ListRoundsRequest.ts';
import type { ListRoundsResponse as _conclave_v1_ListRoundsResponse, ListRoundsResponse__Output as _conclave_v1_ListRoundsResponse__Output } from '../../conclave/v1/ListRoundsResponse.ts';
import type { ListSitesRequest as _conclave_v1_ListSitesRequest, ListSitesRequest__Output as _conclave_v1_ListSitesRequest__Output } from '../../conclave/v1/ListSitesRequest.ts';
import type { ListSitesResponse as _conclave_v1_ListSitesResponse, ListSitesResponse__Output as _conclave_v1_ListSitesResponse__Output } from '../../conclave/v1/ListSitesResponse.ts';
import type { ModelStreamMessage as _conclave_v1_ModelStreamMessage, ModelStreamMessage__Output as _conclave_v1_ModelStreamMessage__Output } from '../../conclave/v1/ModelStreamMessage.ts';
import type { RevokeSiteRequest as _conclave_v1_RevokeSiteRequest, RevokeSiteRequest__Output as _conclave_v1_RevokeSiteRequest__Output } from '../../conclave/v1/RevokeSiteRequest.ts';
import type { RevokeSiteResponse as _conclave_v1_RevokeSiteResponse, RevokeSiteResponse__Output as _conclave_v1_RevokeSiteResponse__Output } from '../../conclave/v1/RevokeSiteResponse.ts';
import type { RollbackModelRequest as _conclave_v1_RollbackModelRequest, RollbackModelRequest__Output as _conclave_v1_RollbackModelRequest__Output } from '../../conclave/v1/RollbackModelRequest.ts';
import type { Round as _conclave_v1_Round, Round__Output as _conclave_v1_Round__Output } from '../../conclave/v1/Round.ts';
import type { StartFederationRequest as _conclave_v1_StartFederationRequest, StartFederationRequest__Output as _conclave_v1_StartFederationRequest__Output } from '../../conclave/v1/StartFederationRequest.ts';
import type { WatchFederationRequest as _conclave_v1_WatchFederationRequest, WatchFederationRequest__Output as _conclave_v1_WatchFederationRequest__Output } from '../../conclave/v1/WatchFederationRequest.ts';

export interface AdminServiceClient extends grpc.Client {
  AbortRound(argument: _conclave_v1_AbortRoundRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Round__Output>): grpc.ClientUnaryCall;
  AbortRound(argument: _conclave_v1_AbortRoundRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Round__Output>): grpc.ClientUnaryCall;
  AbortRound(argument: _conclave_v1_AbortRoundRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Round__Output>): grpc.ClientUnaryCall;
  AbortRound(argument: _conclave_v1_AbortRoundRequest, callback: grpc.requestCallback<_conclave_v1_Round__Output>): grpc.ClientUnaryCall;
  abortRound(argument: _conclave_v1_AbortRoundRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Round__Output>): grpc.ClientUnaryCall;
  abortRound(argument: _conclave_v1_AbortRoundRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Round__Output>): grpc.ClientUnaryCall;
  abortRound(argument: _conclave_v1_AbortRoundRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Round__Output>): grpc.ClientUnaryCall;
  abortRound(argument: _conclave_v1_AbortRoundRequest, callback: grpc.requestCallback<_conclave_v1_Round__Output>): grpc.ClientUnaryCall;
  
  CreateFederation(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientWritableStream<_conclave_v1_CreateFederationMessage>;
  CreateFederation(metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientWritableStream<_conclave_v1_CreateFederationMessage>;
  CreateFederation(options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientWritableStream<_conclave_v1_CreateFederationMessage>;
  CreateFederation(callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientWritableStream<_conclave_v1_CreateFederationMessage>;
  createFederation(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientWritableStream<_conclave_v1_CreateFederationMessage>;
  createFederation(metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientWritableStream<_conclave_v1_CreateFederationMessage>;
  createFederation(options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientWritableStream<_conclave_v1_CreateFederationMessage>;
  createFederation(callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientWritableStream<_conclave_v1_CreateFederationMessage>;
  
  DownloadModel(argument: _conclave_v1_DownloadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_ModelStreamMessage__Output>;
  DownloadModel(argument: _conclave_v1_DownloadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_ModelStreamMessage__Output>;
  downloadModel(argument: _conclave_v1_DownloadModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_ModelStreamMessage__Output>;
  downloadModel(argument: _conclave_v1_DownloadModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_ModelStreamMessage__Output>;
  
  EnrollSite(argument: _conclave_v1_EnrollSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_EnrollSiteResponse__Output>): grpc.ClientUnaryCall;
  EnrollSite(argument: _conclave_v1_EnrollSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_EnrollSiteResponse__Output>): grpc.ClientUnaryCall;
  EnrollSite(argument: _conclave_v1_EnrollSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_EnrollSiteResponse__Output>): grpc.ClientUnaryCall;
  EnrollSite(argument: _conclave_v1_EnrollSiteRequest, callback: grpc.requestCallback<_conclave_v1_EnrollSiteResponse__Output>): grpc.ClientUnaryCall;
  enrollSite(argument: _conclave_v1_EnrollSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_EnrollSiteResponse__Output>): grpc.ClientUnaryCall;
  enrollSite(argument: _conclave_v1_EnrollSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_EnrollSiteResponse__Output>): grpc.ClientUnaryCall;
  enrollSite(argument: _conclave_v1_EnrollSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_EnrollSiteResponse__Output>): grpc.ClientUnaryCall;
  enrollSite(argument: _conclave_v1_EnrollSiteRequest, callback: grpc.requestCallback<_conclave_v1_EnrollSiteResponse__Output>): grpc.ClientUnaryCall;
  
  GetFederation(argument: _conclave_v1_GetFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  GetFederation(argument: _conclave_v1_GetFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  GetFederation(argument: _conclave_v1_GetFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  GetFederation(argument: _conclave_v1_GetFederationRequest, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  getFederation(argument: _conclave_v1_GetFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  getFederation(argument: _conclave_v1_GetFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  getFederation(argument: _conclave_v1_GetFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  getFederation(argument: _conclave_v1_GetFederationRequest, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  
  GetLedger(argument: _conclave_v1_GetLedgerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_GetLedgerResponse__Output>): grpc.ClientUnaryCall;
  GetLedger(argument: _conclave_v1_GetLedgerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_GetLedgerResponse__Output>): grpc.ClientUnaryCall;
  GetLedger(argument: _conclave_v1_GetLedgerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_GetLedgerResponse__Output>): grpc.ClientUnaryCall;
  GetLedger(argument: _conclave_v1_GetLedgerRequest, callback: grpc.requestCallback<_conclave_v1_GetLedgerResponse__Output>): grpc.ClientUnaryCall;
  getLedger(argument: _conclave_v1_GetLedgerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_GetLedgerResponse__Output>): grpc.ClientUnaryCall;
  getLedger(argument: _conclave_v1_GetLedgerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_GetLedgerResponse__Output>): grpc.ClientUnaryCall;
  getLedger(argument: _conclave_v1_GetLedgerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_GetLedgerResponse__Output>): grpc.ClientUnaryCall;
  getLedger(argument: _conclave_v1_GetLedgerRequest, callback: grpc.requestCallback<_conclave_v1_GetLedgerResponse__Output>): grpc.ClientUnaryCall;
  
  ListFederations(argument: _conclave_v1_ListFederationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  ListFederations(argument: _conclave_v1_ListFederationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  ListFederations(argument: _conclave_v1_ListFederationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  ListFederations(argument: _conclave_v1_ListFederationsRequest, callback: grpc.requestCallback<_conclave_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  listFederations(argument: _conclave_v1_ListFederationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  listFederations(argument: _conclave_v1_ListFederationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  listFederations(argument: _conclave_v1_ListFederationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  listFederations(argument: _conclave_v1_ListFederationsRequest, callback: grpc.requestCallback<_conclave_v1_ListFederationsResponse__Output>): grpc.ClientUnaryCall;
  
  ListModels(argument: _conclave_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _conclave_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _conclave_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _conclave_v1_ListModelsRequest, callback: grpc.requestCallback<_conclave_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _conclave_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _conclave_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _conclave_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _conclave_v1_ListModelsRequest, callback: grpc.requestCallback<_conclave_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  
  ListRounds(argument: _conclave_v1_ListRoundsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  ListRounds(argument: _conclave_v1_ListRoundsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  ListRounds(argument: _conclave_v1_ListRoundsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  ListRounds(argument: _conclave_v1_ListRoundsRequest, callback: grpc.requestCallback<_conclave_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  listRounds(argument: _conclave_v1_ListRoundsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  listRounds(argument: _conclave_v1_ListRoundsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  listRounds(argument: _conclave_v1_ListRoundsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  listRounds(argument: _conclave_v1_ListRoundsRequest, callback: grpc.requestCallback<_conclave_v1_ListRoundsResponse__Output>): grpc.ClientUnaryCall;
  
  ListSites(argument: _conclave_v1_ListSitesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  ListSites(argument: _conclave_v1_ListSitesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  ListSites(argument: _conclave_v1_ListSitesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  ListSites(argument: _conclave_v1_ListSitesRequest, callback: grpc.requestCallback<_conclave_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  listSites(argument: _conclave_v1_ListSitesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  listSites(argument: _conclave_v1_ListSitesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  listSites(argument: _conclave_v1_ListSitesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  listSites(argument: _conclave_v1_ListSitesRequest, callback: grpc.requestCallback<_conclave_v1_ListSitesResponse__Output>): grpc.ClientUnaryCall;
  
  RevokeSite(argument: _conclave_v1_RevokeSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_RevokeSiteResponse__Output>): grpc.ClientUnaryCall;
  RevokeSite(argument: _conclave_v1_RevokeSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_RevokeSiteResponse__Output>): grpc.ClientUnaryCall;
  RevokeSite(argument: _conclave_v1_RevokeSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_RevokeSiteResponse__Output>): grpc.ClientUnaryCall;
  RevokeSite(argument: _conclave_v1_RevokeSiteRequest, callback: grpc.requestCallback<_conclave_v1_RevokeSiteResponse__Output>): grpc.ClientUnaryCall;
  revokeSite(argument: _conclave_v1_RevokeSiteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_RevokeSiteResponse__Output>): grpc.ClientUnaryCall;
  revokeSite(argument: _conclave_v1_RevokeSiteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_RevokeSiteResponse__Output>): grpc.ClientUnaryCall;
  revokeSite(argument: _conclave_v1_RevokeSiteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_RevokeSiteResponse__Output>): grpc.ClientUnaryCall;
  revokeSite(argument: _conclave_v1_RevokeSiteRequest, callback: grpc.requestCallback<_conclave_v1_RevokeSiteResponse__Output>): grpc.ClientUnaryCall;
  
  RollbackModel(argument: _conclave_v1_RollbackModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  RollbackModel(argument: _conclave_v1_RollbackModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  RollbackModel(argument: _conclave_v1_RollbackModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  RollbackModel(argument: _conclave_v1_RollbackModelRequest, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  rollbackModel(argument: _conclave_v1_RollbackModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  rollbackModel(argument: _conclave_v1_RollbackModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  rollbackModel(argument: _conclave_v1_RollbackModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  rollbackModel(argument: _conclave_v1_RollbackModelRequest, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  
  StartFederation(argument: _conclave_v1_StartFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  StartFederation(argument: _conclave_v1_StartFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  StartFederation(argument: _conclave_v1_StartFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  StartFederation(argument: _conclave_v1_StartFederationRequest, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  startFederation(argument: _conclave_v1_StartFederationRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  startFederation(argument: _conclave_v1_StartFederationRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  startFederation(argument: _conclave_v1_StartFederationRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  startFederation(argument: _conclave_v1_StartFederationRequest, callback: grpc.requestCallback<_conclave_v1_Federation__Output>): grpc.ClientUnaryCall;
  
  WatchFederation(argument: _conclave_v1_WatchFederationRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_FederationEvent__Output>;
  WatchFederation(argument: _conclave_v1_WatchFederationRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_FederationEvent__Output>;
  watchFederation(argument: _conclave_v1_WatchFederationRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_FederationEvent__Output>;
  watchFederation(argument: _conclave_v1_WatchFederationRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_conclave_v1_FederationEvent__Output>;
  
}

export interface AdminServiceHandlers extends grpc.UntypedServiceImplementation {
  AbortRound: grpc.handleUnaryCall<_conclave_v1_AbortRoundRequest__Output, _conclave_v1_Round>;
  
  CreateFederation: grpc.handleClientStreamingCall<_conclave_v1_CreateFederationMessage__Output, _conclave_v1_Federation>;
  
  DownloadModel: grpc.handleServerStreamingCall<_conclave_v1_DownloadModelRequest__Output, _conclave_v1_ModelStreamMessage>;
  
  EnrollSite: grpc.handleUnaryCall<_conclave_v1_EnrollSiteRequest__Output, _conclave_v1_EnrollSiteResponse>;
  
  GetFederation: grpc.handleUnaryCall<_conclave_v1_GetFederationRequest__Output, _conclave_v1_Federation>;
  
  GetLedger: grpc.handleUnaryCall<_conclave_v1_GetLedgerRequest__Output, _conclave_v1_GetLedgerResponse>;
  
  ListFederations: grpc.handleUnaryCall<_conclave_v1_ListFederationsRequest__Output, _conclave_v1_ListFederationsResponse>;
  
  ListModels: grpc.handleUnaryCall<_conclave_v1_ListModelsRequest__Output, _conclave_v1_ListModelsResponse>;
  
  ListRounds: grpc.handleUnaryCall<_conclave_v1_ListRoundsRequest__Output, _conclave_v1_ListRoundsResponse>;
  
  ListSites: grpc.handleUnaryCall<_conclave_v1_ListSitesRequest__Output, _conclave_v1_ListSitesResponse>;
  
  RevokeSite: grpc.handleUnaryCall<_conclave_v1_RevokeSiteRequest__Output, _conclave_v1_RevokeSiteResponse>;
  
  RollbackModel: grpc.handleUnaryCall<_conclave_v1_RollbackModelRequest__Output, _conclave_v1_Federation>;
  
  StartFederation: grpc.handleUnaryCall<_conclave_v1_StartFederationRequest__Output, _conclave_v1_Federation>;
  
  WatchFederation: grpc.handleServerStreamingCall<_conclave_v1_WatchFederationRequest__Output, _conclave_v1_FederationEvent>;
  
}

export interface AdminServiceDefinition extends grpc.ServiceDefinition {
  AbortRound: MethodDefinition<_conclave_v1_AbortRoundRequest, _conclave_v1_Round, _conclave_v1_AbortRoundRequest__Output, _conclave_v1_Round__Output>
  CreateFederation: MethodDefinition<_conclave_v1_CreateFederationMessage, _conclave_v1_Federation, _conclave_v1_CreateFederationMessage__Output, _conclave_v1_Federation__Output>
  DownloadModel: MethodDefinition<_conclave_v1_DownloadModelRequest, _conclave_v1_ModelStreamMessage, _conclave_v1_DownloadModelRequest__Output, _conclave_v1_ModelStreamMessage__Output>
  EnrollSite: MethodDefinition<_conclave_v1_EnrollSiteRequest, _conclave_v1_EnrollSiteResponse, _conclave_v1_EnrollSiteRequest__Output, _conclave_v1_EnrollSiteResponse__Output>
  GetFederation: MethodDefinition<_conclave_v1_GetFederationRequest, _conclave_v1_Federation, _conclave_v1_GetFederationRequest__Output, _conclave_v1_Federation__Output>
  GetLedger: MethodDefinition<_conclave_v1_GetLedgerRequest, _conclave_v1_GetLedgerResponse, _conclave_v1_GetLedgerRequest__Output, _conclave_v1_GetLedgerResponse__Output>
  ListFederations: MethodDefinition<_conclave_v1_ListFederationsRequest, _conclave_v1_ListFederationsResponse, _conclave_v1_ListFederationsRequest__Output, _conclave_v1_ListFederationsResponse__Output>
  ListModels: MethodDefinition<_conclave_v1_ListModelsRequest, _conclave_v1_ListModelsResponse, _conclave_v1_ListModelsRequest__Output, _conclave_v1_ListModelsResponse__Output>
  ListRounds: MethodDefinition<_conclave_v1_ListRoundsRequest, _conclave_v1_ListRoundsResponse, _conclave_v1_ListRoundsRequest__Output, _conclave_v1_ListRoundsResponse__Output>
  ListSites: MethodDefinition<_conclave_v1_ListSitesRequest, _conclave_v1_ListSitesResponse, _conclave_v1_ListSitesRequest__Output, _conclave_v1_ListSitesResponse__Output>
  RevokeSite: MethodDefinition<_conclave_v1_RevokeSiteRequest, _conclave_v1_RevokeSiteResponse, _conclave_v1_RevokeSiteRequest__Output, _conclave_v1_RevokeSiteResponse__Output>
  RollbackModel: MethodDefinition<_conclave_v1_RollbackModelRequest, _conclave_v1_Federation, _conclave_v1_RollbackModelRequest__Output, _conclave_v1_Federation__Output>
  StartFederation: MethodDefinition<_conclave_v1_StartFederationRequest, _conclave_v1_Federation, _conclave_v1_StartFederationRequest__Output, _conclave_v1_Federation__Output>
  WatchFederation: MethodDefinition<_conclave_v1_WatchFederationRequest, _conclave_v1_FederationEvent, _conclave_v1_WatchFederationRequest__Output, _conclave_v1_FederationEvent__Output>
}
