import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { renderSqlFile } from '../../activities/bigquery/sql';

const tables = {
  pois: { dataset: 'visits_source', table: 'pois' },
  visits: { dataset: 'visits_source', table: 'poi_visits_daily' },
  clusters: { dataset: 'visits_source', table: 'clusters_daily' },
};

describe('rendering SQL files', () => {
  it('fills table placeholders with backticked names and drops whole-line comments', () => {
    const sql = renderSqlFile('pipelines/visits-scaling/sql/quality_labels.sql', tables, 'retrainer-local');
    expect(sql).toContain('FROM `retrainer-local.visits_source.poi_visits_daily` AS v');
    expect(sql).not.toMatch(/\{\{|^\s*--/m);
    expect(sql).toContain('@cutoff');
  });

  it('names the placeholders a file needs and the call did not give', () => {
    expect(() =>
      renderSqlFile(
        'pipelines/visits-scaling/sql/quality_labels.sql',
        { pois: tables.pois },
        'retrainer-local',
      ),
    ).toThrow(/needs table\(s\) visits, clusters/);
  });

  it('refuses a table name that is not a plain identifier', () => {
    expect(() =>
      renderSqlFile(
        'pipelines/visits-scaling/sql/quality_labels.sql',
        { ...tables, pois: { dataset: 'visits_source', table: 'pois` UNION ALL SELECT' } },
        'retrainer-local',
      ),
    ).toThrow(ApplicationFailure);
  });

  it('fails with a typed, non-retryable error for a file that does not exist or a name that climbs out', () => {
    for (const name of [
      'pipelines/visits-scaling/sql/nope.sql',
      '../package.sql',
      '--output=x.sql',
      'pipelines/../x.sql',
    ]) {
      let error: unknown;
      try {
        renderSqlFile(name, tables, 'retrainer-local');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect((error as ApplicationFailure).nonRetryable).toBe(true);
    }
  });
});
