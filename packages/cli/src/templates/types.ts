/** Names derived from the connector name, for use in generated files. */
export interface TemplateNames {
  /** The package and connector name: `acme`. */
  name: string;
  /** `Acme`. */
  displayName: string;
}

/** A file the scaffold writes, relative to the package folder. */
export type TemplateFiles = Record<string, string>;

/** One `init --template` choice: its domain-specific source, fixtures and tests. */
export interface TemplateDefinition {
  id: 'commerce' | 'crm' | 'payments' | 'messaging' | 'rest';
  summary: string;
  /** src/**, fixtures/** and the test file(s), keyed by relative path. */
  files(names: TemplateNames): TemplateFiles;
  /** What the README says the connector does, one bullet per action/trigger. */
  readme(names: TemplateNames): string;
}

/** Formats a fixtures file: `{ "fixtures": [...] }`, pretty-printed. */
export function fixturesFile(fixtures: unknown[]): string {
  return `${JSON.stringify({ fixtures }, null, 2)}\n`;
}
