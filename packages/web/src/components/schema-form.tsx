import { useId } from 'react';
import { optionLabel, optionValue, type FieldError, type FormField, type FormValues } from '../lib/schema-form.ts';

function inputType(field: FormField): string {
  if (field.kind === 'number' || field.kind === 'integer') return 'number';
  if (field.format === 'email') return 'email';
  if (field.format === 'uri' || field.format === 'url') return 'url';
  return 'text';
}

/** Renders fields from {@link schemaToFields}: labelled inputs, help text and per-field errors tied by aria-describedby. */
export function SchemaFields({ fields, values, errors, onChange }: { fields: readonly FormField[]; values: FormValues; errors: readonly FieldError[]; onChange(name: string, value: string | boolean): void }) {
  const base = useId();
  if (fields.length === 0) return <p className="muted">This action takes no parameters.</p>;
  return (
    <div className="form-grid">
      {fields.map((f) => {
        const id = `${base}-${f.name}`;
        const error = errors.find((e) => e.field === f.name);
        const help = f.description ? `${id}-help` : undefined;
        const err = error ? `${id}-err` : undefined;
        const describedBy = [help, err].filter(Boolean).join(' ') || undefined;
        const value = values[f.name];
        const common = { id, 'aria-describedby': describedBy, 'aria-invalid': error ? true : undefined, required: f.required };
        let control;
        if (f.kind === 'boolean') {
          control = (
            <div className="checkbox">
              <input {...common} required={false} type="checkbox" checked={value === true} onChange={(e) => onChange(f.name, e.target.checked)} />
              <label htmlFor={id}>{f.label}</label>
            </div>
          );
        } else if (f.kind === 'enum') {
          control = (
            <select {...common} value={typeof value === 'string' ? value : ''} onChange={(e) => onChange(f.name, e.target.value)}>
              <option value="">{f.required ? 'Choose…' : '(not set)'}</option>
              {(f.options ?? []).map((o) => (
                <option key={optionValue(o)} value={optionValue(o)}>
                  {optionLabel(o)}
                </option>
              ))}
            </select>
          );
        } else if (f.kind === 'json' || f.kind === 'string-list') {
          control = (
            <textarea
              {...common}
              className={f.kind === 'json' ? 'mono' : undefined}
              rows={f.kind === 'json' ? 4 : 3}
              placeholder={f.kind === 'json' ? 'JSON value' : 'One value per line'}
              value={typeof value === 'string' ? value : ''}
              onChange={(e) => onChange(f.name, e.target.value)}
            />
          );
        } else {
          control = (
            <input
              {...common}
              type={inputType(f)}
              step={f.kind === 'integer' ? 1 : f.kind === 'number' ? 'any' : undefined}
              value={typeof value === 'string' ? value : ''}
              onChange={(e) => onChange(f.name, e.target.value)}
            />
          );
        }
        return (
          <div key={f.name} className={`field${f.kind === 'json' ? ' field-wide' : ''}`}>
            {f.kind !== 'boolean' && (
              <label htmlFor={id}>
                {f.label}
                {f.required ? <span className="required"> (required)</span> : null}
                <span className="field-kind">{f.kind === 'string-list' ? 'list' : f.kind}</span>
              </label>
            )}
            {control}
            {f.description && (
              <p id={help} className="help">
                {f.description}
              </p>
            )}
            {error && (
              <p id={err} className="field-error">
                {error.message}
              </p>
            )}
          </div>
        );
      })}
    </div>
  );
}
