import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { renderSql } from '../../sql/render';

const tables = {
  pois: { dataset: 'visits_source', table: 'pois' },
  visits: { dataset: 'visits_source', table: 'poi_visits_daily' },
  clusters: { dataset: 'visits_source', table: 'clusters_daily' },
};

describe('rendering SQL files', () => {
  it('fills table placeholders with backticked names and drops whole-line comments', () => {
    const sql = renderSql('visits-scaling/quality_labels', tables, 'retrainer-local');
    expect(sql).toContain('FROM `retrainer-local.visits_source.poi_visits_daily` AS v');
    expect(sql).not.toMatch(/\{\{|^\s*--/m);
    expect(sql).toContain('@cutoff');
  });

  it('names the placeholders a file needs and the call did not give', () => {
    expect(() =>
      renderSql('visits-scaling/quality_labels', { pois: tables.pois }, 'retrainer-local'),
    ).toThrow(/needs table\(s\) visits, clusters/);
  });

  it('refuses a table name that is not a plain identifier', () => {
    expect(() =>
      renderSql(
        'visits-scaling/quality_labels',
        { ...tables, pois: { dataset: 'visits_source', table: 'pois` UNION ALL SELECT' } },
        'retrainer-local',
      ),
    ).toThrow(ApplicationFailure);
  });

  it('fails with a typed, non-retryable error for a file that does not exist or a name that climbs out', () => {
    for (const name of ['visits-scaling/nope', '../package']) {
      let error: unknown;
      try {
        renderSql(name, tables, 'retrainer-local');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect((error as ApplicationFailure).nonRetryable).toBe(true);
    }
  });
});
