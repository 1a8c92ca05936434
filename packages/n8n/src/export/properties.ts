import type { ActionManifest, JsonSchema, TriggerManifest } from '@businessos/connector-sdk';
import { fieldKind, propertyName, type SchemaLike } from '../runtime/n8n-runtime.ts';
import { actionLabel, displayName, lintSafeDescription } from './naming.ts';

/** An n8n node property (INodeProperties) as plain JSON. */
export type N8nProperty = Record<string, unknown>;

interface Show {
  resource?: string[];
  operation?: string[];
}

const byDisplayName = (a: N8nProperty, b: N8nProperty) => String(a.displayName).localeCompare(String(b.displayName));
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

function optionName(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value);
  return displayName(value) || value;
}

function emailLike(name: string, schema: SchemaLike): boolean {
  return schema.format === 'email' || /email/i.test(name);
}

/**
 * Converts one JSON-Schema parameter into an n8n property: string, number, boolean, dateTime, options (enums),
 * multiOptions (arrays of enums), multiple-value strings/numbers (arrays of scalars), collection (objects),
 * fixedCollection (arrays of objects) and json (free-form or deeply nested values). See `fieldKind`.
 */
export function toProperty(name: string, schema: JsonSchema, options: { required?: boolean; depth?: number; inCollection?: boolean } = {}): N8nProperty {
  const s = schema as SchemaLike;
  const depth = options.depth ?? 0;
  const kind = fieldKind(s, depth);
  const label = displayName(name);
  const prop: N8nProperty = { displayName: label, name: depth === 0 && !options.inCollection ? propertyName(name) : name };
  const isLimit = name === 'limit' && kind.kind === 'number';
  switch (kind.kind) {
    case 'string':
      prop.type = 'string';
      prop.default = typeof s.default === 'string' ? s.default : '';
      if (emailLike(name, s)) prop.placeholder = 'name@email.com';
      break;
    case 'dateTime':
      prop.type = 'dateTime';
      prop.default = typeof s.default === 'string' ? s.default : '';
      break;
    case 'number': {
      prop.type = 'number';
      const typeOptions: Record<string, number> = {};
      if (typeof s.minimum === 'number') typeOptions.minValue = s.minimum;
      if (typeof s.maximum === 'number') typeOptions.maxValue = s.maximum;
      if (s.type === 'integer') typeOptions.numberPrecision = 0;
      if (isLimit) typeOptions.minValue = Math.max(1, typeOptions.minValue ?? 1);
      if (Object.keys(typeOptions).length > 0) prop.typeOptions = typeOptions;
      // n8n's linter wants the conventional page size for `limit`; clamp it into the schema's range.
      const limitDefault = Math.min(Math.max(50, typeOptions.minValue ?? 1), typeOptions.maxValue ?? 50);
      prop.default = isLimit ? limitDefault : typeof s.default === 'number' ? s.default : (typeOptions.minValue ?? 0);
      break;
    }
    case 'boolean':
      prop.type = 'boolean';
      prop.default = typeof s.default === 'boolean' ? s.default : false;
      break;
    case 'options': {
      prop.type = 'options';
      const opts = kind.values.map((v) => ({ name: optionName(v), value: v })).sort(byName);
      prop.options = opts;
      prop.default = kind.values.includes(s.default as never) ? s.default : opts[0]?.value;
      break;
    }
    case 'multiOptions':
      prop.type = 'multiOptions';
      prop.options = kind.values.map((v) => ({ name: optionName(v), value: v })).sort(byName);
      prop.default = [];
      break;
    case 'list':
      prop.type = kind.item;
      prop.typeOptions = { multipleValues: true };
      prop.default = [];
      break;
    case 'collection':
      prop.type = 'collection';
      prop.placeholder = 'Add Field';
      prop.default = {};
      prop.options = Object.entries(kind.properties).map(([n, p]) => toProperty(n, p as JsonSchema, { depth: depth + 1 })).sort(byDisplayName);
      break;
    case 'fixedCollection':
      prop.type = 'fixedCollection';
      prop.typeOptions = { multipleValues: true };
      prop.placeholder = `Add ${label.replace(/s$/, '')}`;
      prop.default = {};
      prop.options = [
        {
          displayName: 'Item',
          name: 'item',
          values: Object.entries(kind.properties)
            .map(([n, p]) => toProperty(n, p as JsonSchema, { depth: depth + 1, required: kind.required.includes(n) }))
            .sort(byDisplayName),
        },
      ];
      break;
    case 'json':
      prop.type = 'json';
      prop.default = JSON.stringify(s.default ?? (s.type === 'array' ? [] : {}));
      break;
  }
  if (options.required) prop.required = true;
  let description = lintSafeDescription(s.description, { boolean: kind.kind === 'boolean', displayName: label });
  if (isLimit) description = 'Max number of results to return';
  if (kind.kind === 'json' && !description) description = 'A JSON value; see the connector documentation for its shape';
  if (description) prop.description = description;
  return prop;
}

/** One option of n8n's operation selector for an action. */
function operationOption(action: ActionManifest): N8nProperty {
  const option: N8nProperty = { name: action.displayName, value: action.name, action: actionLabel(action.displayName) };
  const description = lintSafeDescription(action.description, { displayName: action.displayName });
  if (description) option.description = description;
  return option;
}

/** The resource an action or trigger belongs to; ungrouped ones share `other`. */
export function resourceOf(item: { group?: string }): string {
  return item.group ?? 'other';
}

/**
 * The properties of the action node: a Resource selector (when the connector groups its actions), an Operation
 * selector per resource, the required parameters of each operation on their own and its optional ones in an
 * "Additional Fields" collection, all shown per operation through displayOptions.
 */
export function actionNodeProperties(actions: ActionManifest[]): N8nProperty[] {
  const grouped = actions.some((a) => a.group !== undefined);
  const resources = [...new Set(actions.map(resourceOf))];
  const props: N8nProperty[] = [];
  if (grouped) {
    const options = resources.map((r) => ({ name: r === 'other' ? 'Other' : displayName(r), value: r })).sort(byName);
    props.push({ displayName: 'Resource', name: 'resource', type: 'options', noDataExpression: true, options, default: options[0]?.value });
  }
  for (const resource of grouped ? resources : [undefined]) {
    const inResource = actions.filter((a) => resource === undefined || resourceOf(a) === resource);
    const options = inResource.map(operationOption).sort((a, b) => String(a.name).localeCompare(String(b.name)));
    const operation: N8nProperty = { displayName: 'Operation', name: 'operation', type: 'options', noDataExpression: true };
    if (resource !== undefined) operation.displayOptions = { show: { resource: [resource] } };
    operation.options = options;
    operation.default = options[0]?.value;
    props.push(operation);
  }
  for (const action of actions) {
    const show: Show = { operation: [action.name] };
    if (grouped) show.resource = [resourceOf(action)];
    const schema = action.params as SchemaLike;
    const properties = schema.properties ?? {};
    const required = new Set(schema.required ?? []);
    for (const [name, p] of Object.entries(properties)) {
      if (!required.has(name)) continue;
      props.push({ ...toProperty(name, p as JsonSchema, { required: true }), displayOptions: { show } });
    }
    const optional = Object.entries(properties).filter(([name]) => !required.has(name));
    if (optional.length > 0) {
      props.push({
        displayName: 'Additional Fields',
        name: 'additionalFields',
        type: 'collection',
        placeholder: 'Add Field',
        default: {},
        displayOptions: { show },
        options: optional.map(([name, p]) => toProperty(name, p as JsonSchema, { inCollection: true })).sort(byDisplayName),
      });
    }
  }
  return props;
}

/** The Event selector of a trigger node (one option per webhook or polling trigger). */
export function eventProperty(triggers: TriggerManifest[]): N8nProperty {
  const options = triggers
    .map((t) => {
      const o: N8nProperty = { name: t.displayName, value: t.name };
      const d = lintSafeDescription(t.description, { displayName: t.displayName });
      if (d) o.description = d;
      return o;
    })
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
  return { displayName: 'Event', name: 'event', type: 'options', noDataExpression: true, required: true, options, default: options[0]?.value };
}
