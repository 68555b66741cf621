/**
 * Warehouse tables of the demand-forecast pipeline (seed 004), shared by its kinds, its SQL and its
 * synthetic data. The refining brick upstream publishes `sales_weekly` and one row per refinement
 * cutoff in `cutoffs` into the environment's input dataset; forecasts go to the output dataset.
 */
export const SALES_TABLE = 'sales_weekly';
export const CUTOFFS_TABLE = 'cutoffs';
export const FORECASTS_TABLE = 'forecasts';

export const SALES_SCHEMA = [
  { name: 'item_id', type: 'STRING' },
  { name: 'week', type: 'DATE' },
  { name: 'sales', type: 'FLOAT' },
];

export const CUTOFFS_SCHEMA = [{ name: 'cutoff', type: 'DATE' }];

/** One forecast per item, cutoff and week ahead, with the model version (the training's) that made it. */
export const FORECASTS_SCHEMA = [
  { name: 'cutoff', type: 'DATE' },
  { name: 'item_id', type: 'STRING' },
  { name: 'week', type: 'DATE' },
  { name: 'horizon', type: 'INTEGER' },
  { name: 'forecast', type: 'FLOAT' },
  { name: 'model_version', type: 'STRING' },
  { name: 'run_id', type: 'STRING' },
];
