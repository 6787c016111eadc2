/**
 * The route table, compiled once from the spec's operations: a request's method and path find its
 * operation and path parameters with a map lookup, or a prefix test for the one kind of template
 * Lucid has (a trailing parameter that takes the rest of the path, slashes included).
 */
import type { Operation } from 'openapi-backend';
import { LucidError } from '../errors.js';

const METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'POST', 'OPTIONS'] as const;

/** One operation of the spec, as the request path needs it. */
export interface Route {
  operation: Operation;
  operationId: string;
  method: string;
}

/** What a request matched: its route and its path parameters (percent-decoded). */
export interface Match {
  route: Route;
  params: Record<string, string>;
}

/** The operations at one path, by method, and the Allow header a 405 there carries. */
interface PathRoutes {
  byMethod: Map<string, Route>;
  allow: string;
}

/** A template such as `/api/kv/{key}`: the literal before the parameter, and the parameter's name. */
interface Template extends PathRoutes {
  prefix: string;
  parameter: string;
}

export class RouteTable {
  readonly #literal = new Map<string, PathRoutes>();
  readonly #templates: Template[] = [];

  /**
   * Builds the table from openapi-backend's operations. A template may have one parameter, at its
   * end: keys hold slashes, so `/api/kv/config/ui` names the key `config/ui` (as `config%2Fui` does).
   */
  constructor(operations: readonly Operation[]) {
    const byPath = new Map<string, Route[]>();
    for (const operation of operations) {
      if (operation.operationId === undefined)
        throw new Error(`${operation.method.toUpperCase()} ${operation.path} has no operationId`);
      const routes = byPath.get(operation.path) ?? [];
      routes.push({ operation, operationId: operation.operationId, method: operation.method.toUpperCase() });
      byPath.set(operation.path, routes);
    }
    for (const [path, routes] of byPath) {
      const byMethod = new Map(routes.map((route) => [route.method, route]));
      const allow = METHODS.filter((method) => byMethod.has(method)).join(', ');
      const parameters = [...path.matchAll(/\{([^}]+)\}/g)];
      if (parameters.length === 0) {
        this.#literal.set(path, { byMethod, allow });
        continue;
      }
      const [only] = parameters;
      if (parameters.length > 1 || !path.endsWith('}') || only === undefined) {
        throw new Error(`${path}: Lucid's router takes one path parameter, at the end of the path`);
      }
      this.#templates.push({ prefix: path.slice(0, only.index), parameter: only[1]!, byMethod, allow });
    }
    // The longest literal first, so a more specific template wins.
    this.#templates.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /**
   * The operation for `method` on `path` (the raw path, without the query). Throws ROUTE_NOT_FOUND
   * when no operation has the path, METHOD_NOT_ALLOWED (with Allow) when none has the method there,
   * and INVALID_REQUEST for a parameter that is not valid percent-encoding.
   */
  match(method: string, path: string): Match {
    for (const template of this.#templates) {
      if (path.length > template.prefix.length && path.startsWith(template.prefix)) {
        const route = allowed(template, method);
        return { route, params: { [template.parameter]: decodeParameter(path.slice(template.prefix.length)) } };
      }
    }
    // Trailing slashes do not count: /health/ is /health.
    let end = path.length;
    while (end > 1 && path.charCodeAt(end - 1) === 47 /* / */) end--;
    const routes = this.#literal.get(end === path.length ? path : path.slice(0, end));
    if (routes === undefined) throw new LucidError('ROUTE_NOT_FOUND');
    return { route: allowed(routes, method), params: {} };
  }
}

function allowed(routes: PathRoutes, method: string): Route {
  const route = routes.byMethod.get(method);
  if (route === undefined) throw new LucidError('METHOD_NOT_ALLOWED', { headers: { Allow: routes.allow } });
  return route;
}

function decodeParameter(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new LucidError('BAD_PERCENT_ENCODING');
  }
}
