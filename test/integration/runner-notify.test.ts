import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import { createNotifyActivities, NotifyErrorType, type Notification } from '../../activities/notify';
import {
  startSmtpReceiver,
  startWebhookReceiver,
  type SmtpReceiver,
  type WebhookReceiver,
} from './runner-receivers';

const notification: Notification = {
  event: 'awaiting-decision',
  pipeline: 'visits-scaling',
  workflowId: 'visits-scaling/2026q3',
  steps: ['trend.train'],
  message: 'step trend.train failed: exit code 137',
};

describe('notifications over a real webhook and a real SMTP server', () => {
  let webhook: WebhookReceiver;
  let smtp: SmtpReceiver;
  beforeAll(async () => {
    [webhook, smtp] = await Promise.all([startWebhookReceiver(), startSmtpReceiver()]);
  });
  afterAll(async () => {
    await Promise.all([webhook?.close(), smtp?.close()]);
  });

  it('posts JSON to the webhook and mails the recipients, both chosen by config', async () => {
    const config = loadConfig({
      NOTIFY_WEBHOOK_URL: webhook.url,
      SMTP_URL: smtp.url,
      NOTIFY_EMAIL_TO: 'ml-oncall@example.com, owner@example.com',
      NOTIFY_EMAIL_FROM: 'retrainer@example.com',
      TEMPORAL_UI_URL: 'http://ui.example:8233',
    });
    const { notify } = createNotifyActivities(config);
    const result = (await new MockActivityEnvironment().run(notify, notification)) as { channels: string[] };
    expect(result.channels).toEqual(['log', 'webhook', 'email']);

    const posted = await webhook.waitFor((body) => body.workflowId === notification.workflowId);
    expect(posted).toMatchObject({
      ...notification,
      contentType: 'application/json',
      url: 'http://ui.example:8233/namespaces/default/workflows/visits-scaling%2F2026q3',
    });
    expect(posted.text).toContain('visits-scaling: awaiting-decision (trend.train)');

    const mail = await smtp.waitFor((message) => message.raw.includes('trend.train'));
    expect(mail.from).toBe('retrainer@example.com');
    expect(mail.to).toEqual(['ml-oncall@example.com', 'owner@example.com']);
    expect(mail.raw).toContain('Subject: [retrainer] visits-scaling: awaiting-decision (trend.train)');
    expect(mail.raw).toContain('exit code 137');
  });

  it('only logs when no channel is configured', async () => {
    const { notify } = createNotifyActivities(loadConfig({}));
    const result = (await new MockActivityEnvironment().run(notify, notification)) as { channels: string[] };
    expect(result.channels).toEqual(['log']);
  });

  it('fails non-retryably when the webhook rejects the request', async () => {
    const rejecting = await startWebhookReceiver(403);
    try {
      const { notify } = createNotifyActivities(loadConfig({ NOTIFY_WEBHOOK_URL: rejecting.url }));
      const error = await new MockActivityEnvironment().run(notify, notification).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error).toMatchObject({ type: NotifyErrorType.WebhookRejected, nonRetryable: true });
    } finally {
      await rejecting.close();
    }
  });
});
