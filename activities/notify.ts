import { log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createTransport, type Transporter } from 'nodemailer';
import type { Config } from '../config';
import { runUiUrl } from '../config/links';
import { whileHeartbeating } from './heartbeat';

export enum NotifyErrorType {
  WebhookRejected = 'WebhookRejected',
}

export type NotificationEvent = 'awaiting-decision' | 'failed' | 'succeeded' | 'aborted';

export interface Notification {
  event: NotificationEvent;
  pipeline: string;
  workflowId: string;
  /** The steps concerned (the failed ones, the one waiting). */
  steps: string[];
  message: string;
}

export type NotifyConfig = Pick<
  Config,
  | 'NOTIFY_WEBHOOK_URL'
  | 'SMTP_URL'
  | 'NOTIFY_EMAIL_TO'
  | 'NOTIFY_EMAIL_FROM'
  | 'TEMPORAL_UI_URL'
  | 'TEMPORAL_NAMESPACE'
>;

/** Link to a run in the Temporal Web UI. */
export { runUiUrl };

/**
 * Notifications of runs that need a human or have ended. Channels are chosen by config: a webhook
 * when `NOTIFY_WEBHOOK_URL` is set (JSON POST with a Slack-compatible `text`), an email when
 * `SMTP_URL` and `NOTIFY_EMAIL_TO` are set; always a log line.
 */
export function createNotifyActivities(config: NotifyConfig) {
  const recipients = config.NOTIFY_EMAIL_TO.split(',')
    .map((address) => address.trim())
    .filter(Boolean);
  let mailer: Transporter | undefined;
  const mail = (): Transporter => (mailer ??= createTransport(config.SMTP_URL));

  return {
    /** Heartbeats while it posts or mails: a worker that dies in it is noticed in seconds. */
    async notify(notification: Notification): Promise<{ channels: string[] }> {
      return await whileHeartbeating(async () => {
        const url = runUiUrl(config, notification.workflowId);
        const subject = `[retrainer] ${notification.pipeline}: ${notification.event}${
          notification.steps.length > 0 ? ` (${notification.steps.join(', ')})` : ''
        }`;
        const text = `${subject}\n${notification.message}\nRun: ${url}`;
        log.info('notification', { ...notification });
        const channels = ['log'];
        if (config.NOTIFY_WEBHOOK_URL) {
          const response = await fetch(config.NOTIFY_WEBHOOK_URL, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text, ...notification, url }),
            signal: AbortSignal.timeout(10_000),
          });
          if (!response.ok) {
            // 4xx will not get better by retrying; 5xx may.
            throw ApplicationFailure.create({
              type: NotifyErrorType.WebhookRejected,
              message: `webhook answered ${response.status} ${response.statusText}`,
              nonRetryable: response.status >= 400 && response.status < 500,
            });
          }
          channels.push('webhook');
        }
        if (config.SMTP_URL && recipients.length > 0) {
          await mail().sendMail({ from: config.NOTIFY_EMAIL_FROM, to: recipients, subject, text });
          channels.push('email');
        }
        return { channels };
      });
    },
  };
}

export type NotifyActivities = ReturnType<typeof createNotifyActivities>;
