// Query parameters of the data routes (internal): the CLI's filters, and
// the token on /events. Unknown or malformed parameters are refused.
import { parseLabelFilter, UsageError } from "../cli/_args.ts";
import { HttpError } from "./_http.ts";
import type { Filters } from "./_model.ts";

const FILTER_PARAMS = ["engine", "project", "label"];

/**
 * The filters of `?engine=…&project=…&label=KEY[=VALUE]` (`engine` and
 * `label` repeatable); `extra` names other parameters the route accepts.
 * Throws a 400 {@linkcode HttpError} naming a bad parameter.
 */
export function parseFilters(
  params: URLSearchParams,
  extra: readonly string[] = [],
): Filters {
  for (const name of new Set(params.keys())) {
    if (!FILTER_PARAMS.includes(name) && !extra.includes(name)) {
      throw new HttpError(
        400,
        `unknown query parameter "${name.slice(0, 64)}" (known: ${
          [...FILTER_PARAMS, ...extra].join(", ")
        })`,
      );
    }
  }
  const projects = params.getAll("project");
  if (projects.length > 1) {
    throw new HttpError(400, `query parameter "project" given more than once`);
  }
  const engines = params.getAll("engine");
  if (engines.some((e) => e === "")) {
    throw new HttpError(
      400,
      `query parameter "engine" needs an engine type or endpoint`,
    );
  }
  const labels = params.getAll("label").map((l) => {
    try {
      return parseLabelFilter(l, "query parameter label");
    } catch (err) {
      if (err instanceof UsageError) throw new HttpError(400, err.message);
      throw err;
    }
  });
  return {
    engines,
    ...(projects.length ? { project: projects[0] } : {}),
    labels,
  };
}
