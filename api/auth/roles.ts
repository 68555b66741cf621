import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { API_ROLES, type ApiRole } from '../../config';

export const REQUIRED_ROLE = 'retrainer:role';

/**
 * The least role a route needs: `viewer` reads, `operator` acts on runs (step actions, approve,
 * abort, dry runs), `admin` starts runs, changes schedules and sets privileged parameters. A route
 * without it needs `viewer` for GET and `admin` for anything else.
 */
export const RequireRole = (role: ApiRole): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRED_ROLE, role);

/** Who called: the token's name and role (set by the auth guard). */
export interface Actor {
  name: string;
  role: ApiRole;
}

/** Whether `role` includes everything `needed` may do. */
export const hasRole = (role: ApiRole, needed: ApiRole): boolean =>
  API_ROLES.indexOf(role) >= API_ROLES.indexOf(needed);

/** The authenticated caller of a protected route. */
export const CurrentActor = createParamDecorator((_data: unknown, context: ExecutionContext): Actor => {
  const actor = context.switchToHttp().getRequest<{ actor?: Actor }>().actor;
  if (!actor) throw new Error('no actor on a protected route (is the route @Public?)');
  return actor;
});
