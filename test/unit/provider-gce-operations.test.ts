import type { protos } from '@google-cloud/compute';
import type { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { VmErrorType } from '../../activities/providers/errors';
import { httpStatus, operationFailure } from '../../activities/providers/gce-operations';

const done = (errors: { code: string; message: string }[]): protos.google.cloud.compute.v1.IOperation => ({
  name: 'operation-42',
  status: 'DONE',
  error: { errors },
});

describe('Compute Engine operation errors', () => {
  it('are no failure when the operation has none', () => {
    expect(operationFailure({ name: 'operation-1', status: 'DONE' }, 'insert rt-a')).toBeUndefined();
  });

  it('tell a missing machine image (non-retryable) from capacity (retryable) and other errors', () => {
    const image = operationFailure(
      done([
        {
          code: 'RESOURCE_NOT_FOUND',
          message: "The resource 'projects/p/global/machineImages/x' was not found",
        },
      ]),
      'insert rt-a',
    ) as ApplicationFailure;
    expect(image).toMatchObject({ type: VmErrorType.MACHINE_IMAGE_NOT_FOUND, nonRetryable: true });

    const capacity = operationFailure(
      done([{ code: 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS', message: 'no T4 left in europe-west1-b' }]),
      'insert rt-a',
    ) as ApplicationFailure;
    expect(capacity).toMatchObject({ type: VmErrorType.VM_CAPACITY, nonRetryable: false });
    expect(capacity.message).toBe(
      'insert rt-a: operation operation-42 failed: ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS: no T4 left in europe-west1-b',
    );

    const other = operationFailure(
      done([{ code: 'INTERNAL_ERROR', message: 'oops' }]),
      'stop rt-a',
    ) as ApplicationFailure;
    expect(other).toMatchObject({ type: VmErrorType.VM_OPERATION_FAILED, nonRetryable: false });
    expect(other.details).toEqual([{ operation: 'operation-42', codes: ['INTERNAL_ERROR'] }]);
  });

  it('read the HTTP status of transport errors', () => {
    expect(httpStatus(Object.assign(new Error('x'), { code: 404 }))).toBe(404);
    expect(httpStatus({ status: 409 })).toBe(409);
    expect(httpStatus(new Error('ECONNRESET'))).toBeUndefined();
    expect(httpStatus(undefined)).toBeUndefined();
  });
});
