/** A tiny JSON client of Retrainer's API: the demo talks to it only through HTTP, like any user. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = (text ? JSON.parse(text) : undefined) as T;
    if (response.status >= 400) {
      const message = (parsed as { message?: unknown } | undefined)?.message;
      throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(message ?? parsed)}`);
    }
    return { status: response.status, body: parsed };
  }
}
