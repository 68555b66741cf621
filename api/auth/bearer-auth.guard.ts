import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseApiTokens, type ApiRole, type Config } from '../../config';
import { CONFIG } from '../config.token';
import { IS_PUBLIC } from './public.decorator';
import { hasRole, REQUIRED_ROLE, type Actor } from './roles';

const digest = (secret: string | Buffer): Buffer => createHash('sha256').update(secret).digest();

/**
 * Bearer-token auth and roles on every route not marked @Public(). Tokens come from API_TOKENS
 * (`name:role:secret`); with none configured every protected route answers 401, so a forgotten
 * setting never opens the API. Secrets are compared by SHA-256 digest, each token every time, so
 * neither a secret's length nor which token matched shows in the timing.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly tokens: { name: string; role: ApiRole; digest: Buffer }[];

  constructor(
    private readonly reflector: Reflector,
    @Inject(CONFIG) config: Config,
  ) {
    this.tokens = parseApiTokens(config.API_TOKENS).map((token) => ({
      name: token.name,
      role: token.role,
      digest: digest(token.secret),
    }));
  }

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<IncomingMessage & { actor?: Actor }>();
    const actor = this.authenticate(request.headers.authorization ?? '');
    const needed =
      this.reflector.getAllAndOverride<ApiRole>(REQUIRED_ROLE, targets) ??
      (request.method === 'GET' || request.method === 'HEAD' ? 'viewer' : 'admin');
    if (!hasRole(actor.role, needed))
      throw new ForbiddenException(`token ${actor.name} has role ${actor.role}; this needs ${needed}`);
    request.actor = actor;
    return true;
  }

  /** The token's name and role, or 401. */
  authenticate(header: string): Actor {
    const match = /^Bearer\s+(\S{1,512})$/i.exec(header);
    if (!match?.[1]) throw new UnauthorizedException('missing bearer token (Authorization: Bearer <token>)');
    const presented = digest(match[1]);
    let found: Actor | undefined;
    for (const token of this.tokens) {
      if (timingSafeEqual(token.digest, presented)) found = { name: token.name, role: token.role };
    }
    if (!found) throw new UnauthorizedException('invalid bearer token');
    return found;
  }
}
