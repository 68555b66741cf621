import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'retrainer:public';

/** Marks a route as reachable without a bearer token (only /health). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
