// Original file: protocols/conclave.proto


export interface EpsilonReport {
  'epsilon'?: (number | string);
  'accountant'?: (string);
  'rdpEpsilon'?: (number | string);
  'pldEpsilon'?: (number | string);
  'budgetEpsilon'?: (number | string);
}

export interface EpsilonReport__Output {
  'epsilon': (number);
  'accountant': (string);
  'rdpEpsilon': (number);
  'pldEpsilon': (number);
  'budgetEpsilon': (number);
}
