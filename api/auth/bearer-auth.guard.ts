import {
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../../config';
import { CONFIG } from '../config.token';
import { IS_PUBLIC } from './public.decorator';

/**
 * Bearer-token auth on every route not marked @Public(). Tokens come from API_TOKENS; with none
 * configured every protected route answers 401, so a forgotten setting never opens the API.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly tokens: Buffer[];

  constructor(
    private readonly reflector: Reflector,
    @Inject(CONFIG) config: Config,
  ) {
    this.tokens = config.API_TOKENS.split(',')
      .map((token) => token.trim())
      .filter(Boolean)
      .map((token) => Buffer.from(token));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]))
      return true;
    const header = context.switchToHttp().getRequest<IncomingMessage>().headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new UnauthorizedException('missing bearer token (Authorization: Bearer <token>)');
    const presented = Buffer.from(match[1]);
    const known = this.tokens.some(
      (token) => token.length === presented.length && timingSafeEqual(token, presented),
    );
    if (!known) throw new UnauthorizedException('invalid bearer token');
    return true;
  }
}
