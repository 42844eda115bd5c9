/**
 * The portfolio: the alive containers of one engine, indexed by ID, by name
 * and by compose project, answering every query from memory.
 *
 * @module
 */

import type { Container } from "../engineclient/mod.ts";

// Names are not unique on every engine (CRI container names repeat across
// pods), so a name maps to one container or, rarely, to several.
type NameEntry = Container | Container[];

// Mutators, assigned in the classes' static blocks: they reach the private
// state while the classes stay read-only to users.
let projectAdd: (p: Project, c: Container) => void;
let projectRemove: (p: Project, c: Container) => void;
let projectNew: (owner: Portfolio, name: string) => Project;
let portfolioSet: (p: Portfolio, c: Container) => Container | undefined;
let portfolioDelete: (p: Portfolio, id: string) => Container | undefined;
let portfolioGet: (p: Portfolio, id: string) => Container | undefined;
let portfolioNamed: (p: Portfolio, name: string) => NameEntry | undefined;

function nameAdd(index: Map<string, NameEntry>, c: Container): void {
  const entry = index.get(c.name);
  if (entry === undefined) index.set(c.name, c);
  else if (Array.isArray(entry)) entry.push(c);
  else index.set(c.name, [entry, c]);
}

function nameRemove(index: Map<string, NameEntry>, c: Container): void {
  const entry = index.get(c.name);
  if (entry === c) {
    index.delete(c.name);
  } else if (Array.isArray(entry)) {
    const rest = entry.filter((other) => other !== c);
    index.set(c.name, rest.length === 1 ? rest[0] : rest);
  }
}

function nameGet(
  index: Map<string, NameEntry>,
  name: string,
): Container | undefined {
  const entry = index.get(name);
  return Array.isArray(entry) ? entry[0] : entry;
}

/**
 * The alive containers of one compose project (or, for the name `""`, the
 * containers belonging to no project). Live: it reflects the portfolio's
 * current state while the project has containers.
 *
 * @example
 * ```ts
 * import type { Watcher } from "@whalewatcher/whalewatcher";
 * declare const watcher: Watcher;
 * const shop = watcher.portfolio.project("shop");
 * for (const c of shop?.containers() ?? []) console.log(c.name, c.pid);
 * ```
 */
export class Project {
  /** The compose project name; `""` for the containers of no project. */
  readonly name: string;
  // Members only; lookups go through the portfolio's indexes, so that a
  // change costs one set operation here.
  #members = new Set<Container>();
  #owner: Portfolio | undefined;
  #list: Container[] | undefined;

  /** Makes an empty project; portfolios make and fill their own. */
  constructor(name: string) {
    this.name = name;
  }

  /** Number of containers in this project. */
  get size(): number {
    return this.#members.size;
  }

  /** The project's containers (a fresh array each call; O(project size)). */
  containers(): Container[] {
    this.#list ??= [...this.#members];
    return this.#list.slice();
  }

  /** The container with this ID, else with this name, in this project. */
  container(idOrName: string): Container | undefined {
    const owner = this.#owner;
    if (!owner) return undefined;
    const byId = portfolioGet(owner, idOrName);
    if (byId && this.#members.has(byId)) return byId;
    const named = portfolioNamed(owner, idOrName);
    if (named === undefined) return undefined;
    if (!Array.isArray(named)) {
      return this.#members.has(named) ? named : undefined;
    }
    return named.find((c) => this.#members.has(c));
  }

  /** Whether a container of this ID belongs to the project. */
  has(id: string): boolean {
    const c = this.#owner && portfolioGet(this.#owner, id);
    return c !== undefined && this.#members.has(c);
  }

  /** Iterates the project's containers without copying. */
  [Symbol.iterator](): IterableIterator<Container> {
    return this.#members.values();
  }

  static {
    projectNew = (owner, name) => {
      const p = new Project(name);
      p.#owner = owner;
      return p;
    };
    projectAdd = (p, c) => {
      p.#members.add(c);
      p.#list = undefined;
    };
    projectRemove = (p, c) => {
      p.#members.delete(c);
      p.#list = undefined;
    };
  }
}

/**
 * The alive containers of one engine, grouped by compose project. Lookups
 * by ID and by name take constant time, per-project views take time in the
 * size of the project, and a change costs constant time. Read-only to its
 * users: only the watcher owning it changes it.
 *
 * @example
 * ```ts
 * import type { Watcher } from "@whalewatcher/whalewatcher";
 * declare const watcher: Watcher;
 * const portfolio = watcher.portfolio;
 * console.log(portfolio.size, portfolio.projectNames());
 * console.log(portfolio.container("web")?.pid);
 * ```
 */
export class Portfolio {
  #byId = new Map<string, Container>();
  #byName = new Map<string, NameEntry>();
  #projects = new Map<string, Project>();
  #list: Container[] | undefined;

  /** Number of alive containers. */
  get size(): number {
    return this.#byId.size;
  }

  /** The container with this ID, else the one with this name. */
  container(idOrName: string): Container | undefined {
    return this.#byId.get(idOrName) ?? nameGet(this.#byName, idOrName);
  }

  /** Whether a container of this ID is alive. */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** All alive containers (a fresh array each call). */
  containers(): Container[] {
    this.#list ??= [...this.#byId.values()];
    return this.#list.slice();
  }

  /** Iterates all alive containers without copying. */
  [Symbol.iterator](): IterableIterator<Container> {
    return this.#byId.values();
  }

  /**
   * The names of the projects that have containers, including `""` when
   * some containers belong to no project.
   */
  projectNames(): string[] {
    return [...this.#projects.keys()];
  }

  /** The projects that have containers. */
  projects(): Project[] {
    return [...this.#projects.values()];
  }

  /** The project of this name (`""`: no project), if it has containers. */
  project(name: string): Project | undefined {
    return this.#projects.get(name);
  }

  /** Number of projects with containers, the `""` project included. */
  get projectCount(): number {
    return this.#projects.size;
  }

  static {
    const remove = (p: Portfolio, c: Container) => {
      nameRemove(p.#byName, c);
      const project = p.#projects.get(c.project);
      if (project) {
        projectRemove(project, c);
        if (project.size === 0) p.#projects.delete(c.project);
      }
    };
    portfolioSet = (p, c) => {
      const old = p.#byId.get(c.id);
      if (old === c) return old;
      if (old) remove(p, old);
      p.#byId.set(c.id, c);
      nameAdd(p.#byName, c);
      let project = p.#projects.get(c.project);
      if (!project) {
        project = projectNew(p, c.project);
        p.#projects.set(c.project, project);
      }
      projectAdd(project, c);
      p.#list = undefined;
      return old;
    };
    portfolioGet = (p, id) => p.#byId.get(id);
    portfolioNamed = (p, name) => p.#byName.get(name);
    portfolioDelete = (p, id) => {
      const old = p.#byId.get(id);
      if (old) {
        p.#byId.delete(id);
        remove(p, old);
        p.#list = undefined;
      }
      return old;
    };
  }
}

/**
 * Changes a portfolio. Internal to the watcher: not re-exported by
 * `watcher/mod.ts`, so users cannot corrupt a watcher's portfolio.
 */
export const _portfolioWriter = {
  /** The container of this ID (not looked up by name). */
  get(portfolio: Portfolio, id: string): Container | undefined {
    return portfolioGet(portfolio, id);
  },
  /** Adds or replaces (by ID) a container; returns the replaced one. */
  set(portfolio: Portfolio, container: Container): Container | undefined {
    return portfolioSet(portfolio, container);
  },
  /** Removes the container of this ID; returns it when there was one. */
  delete(portfolio: Portfolio, id: string): Container | undefined {
    return portfolioDelete(portfolio, id);
  },
};
