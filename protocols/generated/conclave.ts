import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AbortRoundRequest as _conclave_v1_AbortRoundRequest, AbortRoundRequest__Output as _conclave_v1_AbortRoundRequest__Output } from './conclave/v1/AbortRoundRequest.ts';
import type { AdaptiveOptimizerConfig as _conclave_v1_AdaptiveOptimizerConfig, AdaptiveOptimizerConfig__Output as _conclave_v1_AdaptiveOptimizerConfig__Output } from './conclave/v1/AdaptiveOptimizerConfig.ts';
import type { AdminServiceClient as _conclave_v1_AdminServiceClient, AdminServiceDefinition as _conclave_v1_AdminServiceDefinition } from './conclave/v1/AdminService.ts';
import type { AggregationConfig as _conclave_v1_AggregationConfig, AggregationConfig__Output as _conclave_v1_AggregationConfig__Output } from './conclave/v1/AggregationConfig.ts';
import type { CreateFederationHeader as _conclave_v1_CreateFederationHeader, CreateFederationHeader__Output as _conclave_v1_CreateFederationHeader__Output } from './conclave/v1/CreateFederationHeader.ts';
import type { CreateFederationMessage as _conclave_v1_CreateFederationMessage, CreateFederationMessage__Output as _conclave_v1_CreateFederationMessage__Output } from './conclave/v1/CreateFederationMessage.ts';
import type { DataSpec as _conclave_v1_DataSpec, DataSpec__Output as _conclave_v1_DataSpec__Output } from './conclave/v1/DataSpec.ts';
import type { DownloadModelRequest as _conclave_v1_DownloadModelRequest, DownloadModelRequest__Output as _conclave_v1_DownloadModelRequest__Output } from './conclave/v1/DownloadModelRequest.ts';
import type { DownloadStageTensorRequest as _conclave_v1_DownloadStageTensorRequest, DownloadStageTensorRequest__Output as _conclave_v1_DownloadStageTensorRequest__Output } from './conclave/v1/DownloadStageTensorRequest.ts';
import type { DpPlan as _conclave_v1_DpPlan, DpPlan__Output as _conclave_v1_DpPlan__Output } from './conclave/v1/DpPlan.ts';
import type { EnrollSiteRequest as _conclave_v1_EnrollSiteRequest, EnrollSiteRequest__Output as _conclave_v1_EnrollSiteRequest__Output } from './conclave/v1/EnrollSiteRequest.ts';
import type { EnrollSiteResponse as _conclave_v1_EnrollSiteResponse, EnrollSiteResponse__Output as _conclave_v1_EnrollSiteResponse__Output } from './conclave/v1/EnrollSiteResponse.ts';
import type { EpsilonReport as _conclave_v1_EpsilonReport, EpsilonReport__Output as _conclave_v1_EpsilonReport__Output } from './conclave/v1/EpsilonReport.ts';
import type { FeatureScaling as _conclave_v1_FeatureScaling, FeatureScaling__Output as _conclave_v1_FeatureScaling__Output } from './conclave/v1/FeatureScaling.ts';
import type { FedAvgConfig as _conclave_v1_FedAvgConfig, FedAvgConfig__Output as _conclave_v1_FedAvgConfig__Output } from './conclave/v1/FedAvgConfig.ts';
import type { FedAvgMConfig as _conclave_v1_FedAvgMConfig, FedAvgMConfig__Output as _conclave_v1_FedAvgMConfig__Output } from './conclave/v1/FedAvgMConfig.ts';
import type { FederatedEvaluation as _conclave_v1_FederatedEvaluation, FederatedEvaluation__Output as _conclave_v1_FederatedEvaluation__Output } from './conclave/v1/FederatedEvaluation.ts';
import type { Federation as _conclave_v1_Federation, Federation__Output as _conclave_v1_Federation__Output } from './conclave/v1/Federation.ts';
import type { FederationConfig as _conclave_v1_FederationConfig, FederationConfig__Output as _conclave_v1_FederationConfig__Output } from './conclave/v1/FederationConfig.ts';
import type { FederationEvent as _conclave_v1_FederationEvent, FederationEvent__Output as _conclave_v1_FederationEvent__Output } from './conclave/v1/FederationEvent.ts';
import type { Finished as _conclave_v1_Finished, Finished__Output as _conclave_v1_Finished__Output } from './conclave/v1/Finished.ts';
import type { GetFederationRequest as _conclave_v1_GetFederationRequest, GetFederationRequest__Output as _conclave_v1_GetFederationRequest__Output } from './conclave/v1/GetFederationRequest.ts';
import type { GetLedgerRequest as _conclave_v1_GetLedgerRequest, GetLedgerRequest__Output as _conclave_v1_GetLedgerRequest__Output } from './conclave/v1/GetLedgerRequest.ts';
import type { GetLedgerResponse as _conclave_v1_GetLedgerResponse, GetLedgerResponse__Output as _conclave_v1_GetLedgerResponse__Output } from './conclave/v1/GetLedgerResponse.ts';
import type { GetTaskRequest as _conclave_v1_GetTaskRequest, GetTaskRequest__Output as _conclave_v1_GetTaskRequest__Output } from './conclave/v1/GetTaskRequest.ts';
import type { GetTaskResponse as _conclave_v1_GetTaskResponse, GetTaskResponse__Output as _conclave_v1_GetTaskResponse__Output } from './conclave/v1/GetTaskResponse.ts';
import type { HeProtectionConfig as _conclave_v1_HeProtectionConfig, HeProtectionConfig__Output as _conclave_v1_HeProtectionConfig__Output } from './conclave/v1/HeProtectionConfig.ts';
import type { KrumConfig as _conclave_v1_KrumConfig, KrumConfig__Output as _conclave_v1_KrumConfig__Output } from './conclave/v1/KrumConfig.ts';
import type { LedgerEntry as _conclave_v1_LedgerEntry, LedgerEntry__Output as _conclave_v1_LedgerEntry__Output } from './conclave/v1/LedgerEntry.ts';
import type { ListFederationsRequest as _conclave_v1_ListFederationsRequest, ListFederationsRequest__Output as _conclave_v1_ListFederationsRequest__Output } from './conclave/v1/ListFederationsRequest.ts';
import type { ListFederationsResponse as _conclave_v1_ListFederationsResponse, ListFederationsResponse__Output as _conclave_v1_ListFederationsResponse__Output } from './conclave/v1/ListFederationsResponse.ts';
import type { ListModelsRequest as _conclave_v1_ListModelsRequest, ListModelsRequest__Output as _conclave_v1_ListModelsRequest__Output } from './conclave/v1/ListModelsRequest.ts';
import type { ListModelsResponse as _conclave_v1_ListModelsResponse, ListModelsResponse__Output as _conclave_v1_ListModelsResponse__Output } from './conclave/v1/ListModelsResponse.ts';
import type { ListRoundsRequest as _conclave_v1_ListRoundsRequest, ListRoundsRequest__Output as _conclave_v1_ListRoundsRequest__Output } from './conclave/v1/ListRoundsRequest.ts';
import type { ListRoundsResponse as _conclave_v1_ListRoundsResponse, ListRoundsResponse__Output as _conclave_v1_ListRoundsResponse__Output } from './conclave/v1/ListRoundsResponse.ts';
import type { ListSitesRequest as _conclave_v1_ListSitesRequest, ListSitesRequest__Output as _conclave_v1_ListSitesRequest__Output } from './conclave/v1/ListSitesRequest.ts';
import type { ListSitesResponse as _conclave_v1_ListSitesResponse, ListSitesResponse__Output as _conclave_v1_ListSitesResponse__Output } from './conclave/v1/ListSitesResponse.ts';
import type { MedianConfig as _conclave_v1_MedianConfig, MedianConfig__Output as _conclave_v1_MedianConfig__Output } from './conclave/v1/MedianConfig.ts';
import type { ModelHeader as _conclave_v1_ModelHeader, ModelHeader__Output as _conclave_v1_ModelHeader__Output } from './conclave/v1/ModelHeader.ts';
import type { ModelStreamMessage as _conclave_v1_ModelStreamMessage, ModelStreamMessage__Output as _conclave_v1_ModelStreamMessage__Output } from './conclave/v1/ModelStreamMessage.ts';
import type { ModelVersion as _conclave_v1_ModelVersion, ModelVersion__Output as _conclave_v1_ModelVersion__Output } from './conclave/v1/ModelVersion.ts';
import type { NoProtectionConfig as _conclave_v1_NoProtectionConfig, NoProtectionConfig__Output as _conclave_v1_NoProtectionConfig__Output } from './conclave/v1/NoProtectionConfig.ts';
import type { NoneParams as _conclave_v1_NoneParams, NoneParams__Output as _conclave_v1_NoneParams__Output } from './conclave/v1/NoneParams.ts';
import type { OpaqueBody as _conclave_v1_OpaqueBody, OpaqueBody__Output as _conclave_v1_OpaqueBody__Output } from './conclave/v1/OpaqueBody.ts';
import type { ParticipantPrivacy as _conclave_v1_ParticipantPrivacy, ParticipantPrivacy__Output as _conclave_v1_ParticipantPrivacy__Output } from './conclave/v1/ParticipantPrivacy.ts';
import type { ParticipantServiceClient as _conclave_v1_ParticipantServiceClient, ParticipantServiceDefinition as _conclave_v1_ParticipantServiceDefinition } from './conclave/v1/ParticipantService.ts';
import type { PrivacyConfig as _conclave_v1_PrivacyConfig, PrivacyConfig__Output as _conclave_v1_PrivacyConfig__Output } from './conclave/v1/PrivacyConfig.ts';
import type { ProtectionConfig as _conclave_v1_ProtectionConfig, ProtectionConfig__Output as _conclave_v1_ProtectionConfig__Output } from './conclave/v1/ProtectionConfig.ts';
import type { ProtectionPlan as _conclave_v1_ProtectionPlan, ProtectionPlan__Output as _conclave_v1_ProtectionPlan__Output } from './conclave/v1/ProtectionPlan.ts';
import type { ResumeStageRequest as _conclave_v1_ResumeStageRequest, ResumeStageRequest__Output as _conclave_v1_ResumeStageRequest__Output } from './conclave/v1/ResumeStageRequest.ts';
import type { ResumeStageResponse as _conclave_v1_ResumeStageResponse, ResumeStageResponse__Output as _conclave_v1_ResumeStageResponse__Output } from './conclave/v1/ResumeStageResponse.ts';
import type { RevokeSiteRequest as _conclave_v1_RevokeSiteRequest, RevokeSiteRequest__Output as _conclave_v1_RevokeSiteRequest__Output } from './conclave/v1/RevokeSiteRequest.ts';
import type { RevokeSiteResponse as _conclave_v1_RevokeSiteResponse, RevokeSiteResponse__Output as _conclave_v1_RevokeSiteResponse__Output } from './conclave/v1/RevokeSiteResponse.ts';
import type { RollbackModelRequest as _conclave_v1_RollbackModelRequest, RollbackModelRequest__Output as _conclave_v1_RollbackModelRequest__Output } from './conclave/v1/RollbackModelRequest.ts';
import type { Round as _conclave_v1_Round, Round__Output as _conclave_v1_Round__Output } from './conclave/v1/Round.ts';
import type { RoundPlan as _conclave_v1_RoundPlan, RoundPlan__Output as _conclave_v1_RoundPlan__Output } from './conclave/v1/RoundPlan.ts';
import type { SecAggBody as _conclave_v1_SecAggBody, SecAggBody__Output as _conclave_v1_SecAggBody__Output } from './conclave/v1/SecAggBody.ts';
import type { SecAggConfig as _conclave_v1_SecAggConfig, SecAggConfig__Output as _conclave_v1_SecAggConfig__Output } from './conclave/v1/SecAggConfig.ts';
import type { SecAggKeys as _conclave_v1_SecAggKeys, SecAggKeys__Output as _conclave_v1_SecAggKeys__Output } from './conclave/v1/SecAggKeys.ts';
import type { SecAggParams as _conclave_v1_SecAggParams, SecAggParams__Output as _conclave_v1_SecAggParams__Output } from './conclave/v1/SecAggParams.ts';
import type { SecAggPeer as _conclave_v1_SecAggPeer, SecAggPeer__Output as _conclave_v1_SecAggPeer__Output } from './conclave/v1/SecAggPeer.ts';
import type { SecAggRevealedShare as _conclave_v1_SecAggRevealedShare, SecAggRevealedShare__Output as _conclave_v1_SecAggRevealedShare__Output } from './conclave/v1/SecAggRevealedShare.ts';
import type { SecAggSealedShare as _conclave_v1_SecAggSealedShare, SecAggSealedShare__Output as _conclave_v1_SecAggSealedShare__Output } from './conclave/v1/SecAggSealedShare.ts';
import type { SecAggTask as _conclave_v1_SecAggTask, SecAggTask__Output as _conclave_v1_SecAggTask__Output } from './conclave/v1/SecAggTask.ts';
import type { ServerOptimizerConfig as _conclave_v1_ServerOptimizerConfig, ServerOptimizerConfig__Output as _conclave_v1_ServerOptimizerConfig__Output } from './conclave/v1/ServerOptimizerConfig.ts';
import type { SgdConfig as _conclave_v1_SgdConfig, SgdConfig__Output as _conclave_v1_SgdConfig__Output } from './conclave/v1/SgdConfig.ts';
import type { Site as _conclave_v1_Site, Site__Output as _conclave_v1_Site__Output } from './conclave/v1/Site.ts';
import type { StageHeader as _conclave_v1_StageHeader, StageHeader__Output as _conclave_v1_StageHeader__Output } from './conclave/v1/StageHeader.ts';
import type { StageStreamMessage as _conclave_v1_StageStreamMessage, StageStreamMessage__Output as _conclave_v1_StageStreamMessage__Output } from './conclave/v1/StageStreamMessage.ts';
import type { StageTask as _conclave_v1_StageTask, StageTask__Output as _conclave_v1_StageTask__Output } from './conclave/v1/StageTask.ts';
import type { StageTensorMessage as _conclave_v1_StageTensorMessage, StageTensorMessage__Output as _conclave_v1_StageTensorMessage__Output } from './conclave/v1/StageTensorMessage.ts';
import type { StartFederationRequest as _conclave_v1_StartFederationRequest, StartFederationRequest__Output as _conclave_v1_StartFederationRequest__Output } from './conclave/v1/StartFederationRequest.ts';
import type { SubmitStageResponse as _conclave_v1_SubmitStageResponse, SubmitStageResponse__Output as _conclave_v1_SubmitStageResponse__Output } from './conclave/v1/SubmitStageResponse.ts';
import type { TensorChunk as _conclave_v1_TensorChunk, TensorChunk__Output as _conclave_v1_TensorChunk__Output } from './conclave/v1/TensorChunk.ts';
import type { TensorHeader as _conclave_v1_TensorHeader, TensorHeader__Output as _conclave_v1_TensorHeader__Output } from './conclave/v1/TensorHeader.ts';
import type { TensorSpec as _conclave_v1_TensorSpec, TensorSpec__Output as _conclave_v1_TensorSpec__Output } from './conclave/v1/TensorSpec.ts';
import type { TrainingConfig as _conclave_v1_TrainingConfig, TrainingConfig__Output as _conclave_v1_TrainingConfig__Output } from './conclave/v1/TrainingConfig.ts';
import type { TrimmedMeanConfig as _conclave_v1_TrimmedMeanConfig, TrimmedMeanConfig__Output as _conclave_v1_TrimmedMeanConfig__Output } from './conclave/v1/TrimmedMeanConfig.ts';
import type { UpdateBody as _conclave_v1_UpdateBody, UpdateBody__Output as _conclave_v1_UpdateBody__Output } from './conclave/v1/UpdateBody.ts';
import type { UpdateCompression as _conclave_v1_UpdateCompression, UpdateCompression__Output as _conclave_v1_UpdateCompression__Output } from './conclave/v1/UpdateCompression.ts';
import type { Wait as _conclave_v1_Wait, Wait__Output as _conclave_v1_Wait__Output } from './conclave/v1/Wait.ts';
import type { WatchFederationRequest as _conclave_v1_WatchFederationRequest, WatchFederationRequest__Output as _conclave_v1_WatchFederationRequest__Output } from './conclave/v1/WatchFederationRequest.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  conclave: {
    v1: {
      AbortRoundRequest: MessageTypeDefinition<_conclave_v1_AbortRoundRequest, _conclave_v1_AbortRoundRequest__Output>
      AdaptiveOptimizerConfig: MessageTypeDefinition<_conclave_v1_AdaptiveOptimizerConfig, _conclave_v1_AdaptiveOptimizerConfig__Output>
      AdminService: SubtypeConstructor<typeof grpc.Client, _conclave_v1_AdminServiceClient> & { service: _conclave_v1_AdminServiceDefinition }
      AggregationConfig: MessageTypeDefinition<_conclave_v1_AggregationConfig, _conclave_v1_AggregationConfig__Output>
      CreateFederationHeader: MessageTypeDefinition<_conclave_v1_CreateFederationHeader, _conclave_v1_CreateFederationHeader__Output>
      CreateFederationMessage: MessageTypeDefinition<_conclave_v1_CreateFederationMessage, _conclave_v1_CreateFederationMessage__Output>
      DataSpec: MessageTypeDefinition<_conclave_v1_DataSpec, _conclave_v1_DataSpec__Output>
      DownloadModelRequest: MessageTypeDefinition<_conclave_v1_DownloadModelRequest, _conclave_v1_DownloadModelRequest__Output>
      DownloadStageTensorRequest: MessageTypeDefinition<_conclave_v1_DownloadStageTensorRequest, _conclave_v1_DownloadStageTensorRequest__Output>
      DpPlan: MessageTypeDefinition<_conclave_v1_DpPlan, _conclave_v1_DpPlan__Output>
      EnrollSiteRequest: MessageTypeDefinition<_conclave_v1_EnrollSiteRequest, _conclave_v1_EnrollSiteRequest__Output>
      EnrollSiteResponse: MessageTypeDefinition<_conclave_v1_EnrollSiteResponse, _conclave_v1_EnrollSiteResponse__Output>
      EpsilonReport: MessageTypeDefinition<_conclave_v1_EpsilonReport, _conclave_v1_EpsilonReport__Output>
      FeatureScaling: MessageTypeDefinition<_conclave_v1_FeatureScaling, _conclave_v1_FeatureScaling__Output>
      FedAvgConfig: MessageTypeDefinition<_conclave_v1_FedAvgConfig, _conclave_v1_FedAvgConfig__Output>
      FedAvgMConfig: MessageTypeDefinition<_conclave_v1_FedAvgMConfig, _conclave_v1_FedAvgMConfig__Output>
      FederatedEvaluation: MessageTypeDefinition<_conclave_v1_FederatedEvaluation, _conclave_v1_FederatedEvaluation__Output>
      Federation: MessageTypeDefinition<_conclave_v1_Federation, _conclave_v1_Federation__Output>
      FederationConfig: MessageTypeDefinition<_conclave_v1_FederationConfig, _conclave_v1_FederationConfig__Output>
      FederationEvent: MessageTypeDefinition<_conclave_v1_FederationEvent, _conclave_v1_FederationEvent__Output>
      Finished: MessageTypeDefinition<_conclave_v1_Finished, _conclave_v1_Finished__Output>
      GetFederationRequest: MessageTypeDefinition<_conclave_v1_GetFederationRequest, _conclave_v1_GetFederationRequest__Output>
      GetLedgerRequest: MessageTypeDefinition<_conclave_v1_GetLedgerRequest, _conclave_v1_GetLedgerRequest__Output>
      GetLedgerResponse: MessageTypeDefinition<_conclave_v1_GetLedgerResponse, _conclave_v1_GetLedgerResponse__Output>
      GetTaskRequest: MessageTypeDefinition<_conclave_v1_GetTaskRequest, _conclave_v1_GetTaskRequest__Output>
      GetTaskResponse: MessageTypeDefinition<_conclave_v1_GetTaskResponse, _conclave_v1_GetTaskResponse__Output>
      HeProtectionConfig: MessageTypeDefinition<_conclave_v1_HeProtectionConfig, _conclave_v1_HeProtectionConfig__Output>
      KrumConfig: MessageTypeDefinition<_conclave_v1_KrumConfig, _conclave_v1_KrumConfig__Output>
      LedgerEntry: MessageTypeDefinition<_conclave_v1_LedgerEntry, _conclave_v1_LedgerEntry__Output>
      ListFederationsRequest: MessageTypeDefinition<_conclave_v1_ListFederationsRequest, _conclave_v1_ListFederationsRequest__Output>
      ListFederationsResponse: MessageTypeDefinition<_conclave_v1_ListFederationsResponse, _conclave_v1_ListFederationsResponse__Output>
      ListModelsRequest: MessageTypeDefinition<_conclave_v1_ListModelsRequest, _conclave_v1_ListModelsRequest__Output>
      ListModelsResponse: MessageTypeDefinition<_conclave_v1_ListModelsResponse, _conclave_v1_ListModelsResponse__Output>
      ListRoundsRequest: MessageTypeDefinition<_conclave_v1_ListRoundsRequest, _conclave_v1_ListRoundsRequest__Output>
      ListRoundsResponse: MessageTypeDefinition<_conclave_v1_ListRoundsResponse, _conclave_v1_ListRoundsResponse__Output>
      ListSitesRequest: MessageTypeDefinition<_conclave_v1_ListSitesRequest, _conclave_v1_ListSitesRequest__Output>
      ListSitesResponse: MessageTypeDefinition<_conclave_v1_ListSitesResponse, _conclave_v1_ListSitesResponse__Output>
      MedianConfig: MessageTypeDefinition<_conclave_v1_MedianConfig, _conclave_v1_MedianConfig__Output>
      ModelHeader: MessageTypeDefinition<_conclave_v1_ModelHeader, _conclave_v1_ModelHeader__Output>
      ModelStreamMessage: MessageTypeDefinition<_conclave_v1_ModelStreamMessage, _conclave_v1_ModelStreamMessage__Output>
      ModelVersion: MessageTypeDefinition<_conclave_v1_ModelVersion, _conclave_v1_ModelVersion__Output>
      NoProtectionConfig: MessageTypeDefinition<_conclave_v1_NoProtectionConfig, _conclave_v1_NoProtectionConfig__Output>
      NoneParams: MessageTypeDefinition<_conclave_v1_NoneParams, _conclave_v1_NoneParams__Output>
      OpaqueBody: MessageTypeDefinition<_conclave_v1_OpaqueBody, _conclave_v1_OpaqueBody__Output>
      ParticipantPrivacy: MessageTypeDefinition<_conclave_v1_ParticipantPrivacy, _conclave_v1_ParticipantPrivacy__Output>
      ParticipantService: SubtypeConstructor<typeof grpc.Client, _conclave_v1_ParticipantServiceClient> & { service: _conclave_v1_ParticipantServiceDefinition }
      PrivacyConfig: MessageTypeDefinition<_conclave_v1_PrivacyConfig, _conclave_v1_PrivacyConfig__Output>
      ProtectionConfig: MessageTypeDefinition<_conclave_v1_ProtectionConfig, _conclave_v1_ProtectionConfig__Output>
      ProtectionPlan: MessageTypeDefinition<_conclave_v1_ProtectionPlan, _conclave_v1_ProtectionPlan__Output>
      ResumeStageRequest: MessageTypeDefinition<_conclave_v1_ResumeStageRequest, _conclave_v1_ResumeStageRequest__Output>
      ResumeStageResponse: MessageTypeDefinition<_conclave_v1_ResumeStageResponse, _conclave_v1_ResumeStageResponse__Output>
      RevokeSiteRequest: MessageTypeDefinition<_conclave_v1_RevokeSiteRequest, _conclave_v1_RevokeSiteRequest__Output>
      RevokeSiteResponse: MessageTypeDefinition<_conclave_v1_RevokeSiteResponse, _conclave_v1_RevokeSiteResponse__Output>
      RollbackModelRequest: MessageTypeDefinition<_conclave_v1_RollbackModelRequest, _conclave_v1_RollbackModelRequest__Output>
      Round: MessageTypeDefinition<_conclave_v1_Round, _conclave_v1_Round__Output>
      RoundPlan: MessageTypeDefinition<_conclave_v1_RoundPlan, _conclave_v1_RoundPlan__Output>
      SecAggBody: MessageTypeDefinition<_conclave_v1_SecAggBody, _conclave_v1_SecAggBody__Output>
      SecAggConfig: MessageTypeDefinition<_conclave_v1_SecAggConfig, _conclave_v1_SecAggConfig__Output>
      SecAggKeys: MessageTypeDefinition<_conclave_v1_SecAggKeys, _conclave_v1_SecAggKeys__Output>
      SecAggParams: MessageTypeDefinition<_conclave_v1_SecAggParams, _conclave_v1_SecAggParams__Output>
      SecAggPeer: MessageTypeDefinition<_conclave_v1_SecAggPeer, _conclave_v1_SecAggPeer__Output>
      SecAggRevealedShare: MessageTypeDefinition<_conclave_v1_SecAggRevealedShare, _conclave_v1_SecAggRevealedShare__Output>
      SecAggSealedShare: MessageTypeDefinition<_conclave_v1_SecAggSealedShare, _conclave_v1_SecAggSealedShare__Output>
      SecAggTask: MessageTypeDefinition<_conclave_v1_SecAggTask, _conclave_v1_SecAggTask__Output>
      ServerOptimizerConfig: MessageTypeDefinition<_conclave_v1_ServerOptimizerConfig, _conclave_v1_ServerOptimizerConfig__Output>
      SgdConfig: MessageTypeDefinition<_conclave_v1_SgdConfig, _conclave_v1_SgdConfig__Output>
      Site: MessageTypeDefinition<_conclave_v1_Site, _conclave_v1_Site__Output>
      StageHeader: MessageTypeDefinition<_conclave_v1_StageHeader, _conclave_v1_StageHeader__Output>
      StageStreamMessage: MessageTypeDefinition<_conclave_v1_StageStreamMessage, _conclave_v1_StageStreamMessage__Output>
      StageTask: MessageTypeDefinition<_conclave_v1_StageTask, _conclave_v1_StageTask__Output>
      StageTensorMessage: MessageTypeDefinition<_conclave_v1_StageTensorMessage, _conclave_v1_StageTensorMessage__Output>
      StartFederationRequest: MessageTypeDefinition<_conclave_v1_StartFederationRequest, _conclave_v1_StartFederationRequest__Output>
      SubmitStageResponse: MessageTypeDefinition<_conclave_v1_SubmitStageResponse, _conclave_v1_SubmitStageResponse__Output>
      TensorChunk: MessageTypeDefinition<_conclave_v1_TensorChunk, _conclave_v1_TensorChunk__Output>
      TensorHeader: MessageTypeDefinition<_conclave_v1_TensorHeader, _conclave_v1_TensorHeader__Output>
      TensorSpec: MessageTypeDefinition<_conclave_v1_TensorSpec, _conclave_v1_TensorSpec__Output>
      TrainingConfig: MessageTypeDefinition<_conclave_v1_TrainingConfig, _conclave_v1_TrainingConfig__Output>
      TrimmedMeanConfig: MessageTypeDefinition<_conclave_v1_TrimmedMeanConfig, _conclave_v1_TrimmedMeanConfig__Output>
      UpdateBody: MessageTypeDefinition<_conclave_v1_UpdateBody, _conclave_v1_UpdateBody__Output>
      UpdateCompression: MessageTypeDefinition<_conclave_v1_UpdateCompression, _conclave_v1_UpdateCompression__Output>
      Wait: MessageTypeDefinition<_conclave_v1_Wait, _conclave_v1_Wait__Output>
      WatchFederationRequest: MessageTypeDefinition<_conclave_v1_WatchFederationRequest, _conclave_v1_WatchFederationRequest__Output>
    }
  }
}

