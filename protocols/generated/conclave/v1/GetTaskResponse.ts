// Original file: protocols/conclave.proto

import type { RoundPlan as _conclave_v1_RoundPlan, RoundPlan__Output as _conclave_v1_RoundPlan__Output } from '../../conclave/v1/RoundPlan.ts';
import type { Wait as _conclave_v1_Wait, Wait__Output as _conclave_v1_Wait__Output } from '../../conclave/v1/Wait.ts';
import type { Finished as _conclave_v1_Finished, Finished__Output as _conclave_v1_Finished__Output } from '../../conclave/v1/Finished.ts';
import type { StageTask as _conclave_v1_StageTask, StageTask__Output as _conclave_v1_StageTask__Output } from '../../conclave/v1/StageTask.ts';

export interface GetTaskResponse {
  'round'?: (_conclave_v1_RoundPlan | null);
  'wait'?: (_conclave_v1_Wait | null);
  'finished'?: (_conclave_v1_Finished | null);
  'stage'?: (_conclave_v1_StageTask | null);
  'task'?: "round"|"wait"|"finished"|"stage";
}

export interface GetTaskResponse__Output {
  'round'?: (_conclave_v1_RoundPlan__Output | null);
  'wait'?: (_conclave_v1_Wait__Output | null);
  'finished'?: (_conclave_v1_Finished__Output | null);
  'stage'?: (_conclave_v1_StageTask__Output | null);
  'task'?: "round"|"wait"|"finished"|"stage";
}
