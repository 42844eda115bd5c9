// deploy/ read by the tests: the Containerfile's instructions, and offline
// checks of Kubernetes manifests: every object is validated against
// its kubernetes-models model (required fields, types, enums), and walked
// for fields the model does not know, which validate() lets through.
//
// kubernetes-models ships its schemas compiled into validator functions, not
// as data, so the walk asks the validator itself: each field's value in turn
// is replaced by a value no schema accepts (a symbol); a field the model
// knows then fails its type check at that field's path, an unknown field
// fails nothing.

import { parseAllDocuments } from "yaml";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";

/** A Kubernetes object as parsed from YAML. */
export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
};

interface Model {
  validate(): void;
}
type ModelClass = new (data: Record<string, unknown>) => Model;

const models: Record<string, ModelClass> = {
  "v1/Namespace": Namespace as unknown as ModelClass,
  "v1/ServiceAccount": ServiceAccount as unknown as ModelClass,
  "v1/Secret": Secret as unknown as ModelClass,
  "v1/Service": Service as unknown as ModelClass,
  "apps/v1/DaemonSet": DaemonSet as unknown as ModelClass,
  "monitoring.coreos.com/v1/PodMonitor": PodMonitor as unknown as ModelClass,
};

/** Parses every YAML document of `text` (duplicate keys are errors). */
export function parseManifests(text: string, source: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text, { uniqueKeys: true })) {
    if (doc.errors.length > 0) {
      throw new Error(`${source}: ${doc.errors[0].message}`);
    }
    const value = doc.toJS();
    if (value === null || value === undefined) continue;
    if (
      typeof value !== "object" || typeof value.apiVersion !== "string" ||
      typeof value.kind !== "string"
    ) {
      throw new Error(`${source}: a document without apiVersion and kind`);
    }
    objects.push(value as K8sObject);
  }
  return objects;
}

function modelOf(object: K8sObject): ModelClass {
  const model = models[`${object.apiVersion}/${object.kind}`];
  if (!model) {
    throw new Error(
      `no kubernetes-models model for ${object.apiVersion} ${object.kind}`,
    );
  }
  return model;
}

interface SchemaError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

function schemaErrors(model: ModelClass, data: unknown): SchemaError[] {
  try {
    new model(data as Record<string, unknown>).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: SchemaError[] }).errors;
    if (!Array.isArray(errors)) throw error;
    return errors;
  }
}

/**
 * The schema errors of `object` as `path: problem` lines, empty when valid
 * (missing required fields, wrong types, values outside an enum).
 */
export function validateObject(object: K8sObject): string[] {
  return schemaErrors(modelOf(object), object).map((e) =>
    `${e.instancePath || "/"}: ${e.keyword} ${JSON.stringify(e.params)}`
  );
}

// JSON pointer of one more step.
function child(path: string, key: string | number): string {
  return `${path}/${String(key).replaceAll("~", "~0").replaceAll("/", "~1")}`;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The JSON pointers of every field of `object` its model does not know
 * (a typo such as `readonly` for `readOnly`), empty when there is none.
 * Works on partial objects (patches) too: only errors at the probed field
 * count.
 */
export function unknownFields(object: K8sObject): string[] {
  const model = modelOf(object);
  const root = JSON.parse(JSON.stringify(object)) as Json;
  const unknown: string[] = [];
  const PROBE = Symbol("probe");

  // Whether the model checks the value at `path`: replace it by PROBE and
  // look for an error at or under that path.
  function known(
    holder: Record<string, unknown>,
    key: string,
    path: string,
  ): boolean {
    const saved = holder[key];
    holder[key] = PROBE;
    try {
      return schemaErrors(model, root).some((e) =>
        e.instancePath === path || e.instancePath.startsWith(path + "/")
      );
    } finally {
      holder[key] = saved;
    }
  }

  function walk(value: Json, path: string): void {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, child(path, i)));
      return;
    }
    if (value === null || typeof value !== "object") return;
    for (const key of Object.keys(value)) {
      const path2 = child(path, key);
      if (!known(value as Record<string, unknown>, key, path2)) {
        unknown.push(path2);
        continue;
      }
      walk(value[key], path2);
    }
  }

  walk(root, "");
  return unknown;
}

/**
 * A Containerfile's instructions in order, as [KEYWORD, arguments]:
 * comments and blank lines dropped, continuation lines joined.
 */
export function parseContainerfile(text: string): [string, string][] {
  return text.replaceAll(/\\\n/g, " ").split("\n")
    .filter((line) => line.trim() && !line.trimStart().startsWith("#"))
    .map((line) => {
      const m = line.trim().match(/^(\S+)\s+(.*)$/);
      if (!m) throw new Error(`Containerfile: cannot read line "${line}"`);
      return [m[1].toUpperCase(), m[2].trim()];
    });
}
