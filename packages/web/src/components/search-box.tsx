import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { SearchResult } from '../api/types.ts';
import { useSession } from '../lib/session.tsx';
import { ConnectorIcon } from './ui.tsx';

const DEBOUNCE_MS = 200;
const MIN_CHARS = 1;

/**
 * The search box: a combobox (ARIA 1.2 pattern) with type-ahead suggestions fetched after a short pause in typing.
 * Arrow keys move through suggestions, Enter opens the highlighted one (or searches for the text), Escape closes the
 * list (and clears the text when the list is already closed).
 */
export function SearchBox({ initial, onSearch, onPick }: { initial: string; onSearch(q: string): void; onPick(result: SearchResult): void }) {
  const { api } = useSession();
  const [text, setText] = useState(initial);
  const [suggestions, setSuggestions] = useState<SearchResult[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const [typed, setTyped] = useState(false);
  const listId = useId();
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => setText(initial), [initial]);

  useEffect(() => {
    if (!typed) return;
    const q = text.trim();
    if (q.length < MIN_CHARS) {
      setSuggestions([]);
      setOpen(false);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api.search({ q, pageSize: 6 }, controller.signal).then(
        (res) => {
          setSuggestions(res.results);
          setActive(-1);
          setOpen(document.activeElement === inputRef.current);
        },
        () => setSuggestions([]),
      );
    }, DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [text, typed, api]);

  const close = () => {
    setOpen(false);
    setActive(-1);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      if (suggestions.length === 0) return;
      e.preventDefault();
      setOpen(true);
      const step = e.key === 'ArrowDown' ? 1 : -1;
      // Positions -1 (the text itself) .. n-1, wrapping around at both ends.
      setActive((i) => {
        const next = i + step;
        if (next >= suggestions.length) return -1;
        if (next < -1) return suggestions.length - 1;
        return next;
      });
    } else if (e.key === 'Escape') {
      if (open) {
        e.preventDefault();
        close();
      } else if (text) {
        e.preventDefault();
        setText('');
      }
    } else if (e.key === 'Enter' && open && active >= 0) {
      e.preventDefault();
      const pick = suggestions[active];
      close();
      if (pick) onPick(pick);
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    close();
    onSearch(text.trim());
  };

  const activeId = open && active >= 0 ? `${listId}-opt-${active}` : undefined;
  return (
    <form className="search" role="search" onSubmit={onSubmit}>
      <label htmlFor={`${listId}-input`} className="visually-hidden">
        Search connectors
      </label>
      <div className="search-field">
        <svg className="search-icon" viewBox="0 0 20 20" aria-hidden="true">
          <circle cx="8.5" cy="8.5" r="5.5" fill="none" stroke="currentColor" strokeWidth="2" />
          <path d="M13 13l4.5 4.5" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
        <input
          ref={inputRef}
          id={`${listId}-input`}
          type="search"
          role="combobox"
          aria-expanded={open && suggestions.length > 0}
          aria-controls={listId}
          aria-autocomplete="list"
          aria-activedescendant={activeId}
          autoComplete="off"
          spellCheck={false}
          placeholder="Search connectors, actions, triggers…"
          value={text}
          onChange={(e) => {
            setTyped(true);
            setText(e.target.value);
          }}
          onKeyDown={onKeyDown}
          onBlur={() => setTimeout(close, 120)}
          onFocus={() => suggestions.length > 0 && typed && setOpen(true)}
        />
        <ul id={listId} role="listbox" aria-label="Suggestions" className="suggestions" hidden={!open || suggestions.length === 0}>
          {suggestions.map((s, i) => (
            <li
              key={s.id}
              id={`${listId}-opt-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'suggestion active' : 'suggestion'}
              onMouseDown={(e) => {
                e.preventDefault();
                close();
                onPick(s);
              }}
              onMouseEnter={() => setActive(i)}
            >
              <ConnectorIcon icon={s.icon} name={s.displayName} size={24} />
              <span className="suggestion-name">{s.displayName}</span>
              <span className="suggestion-meta">{s.category}</span>
            </li>
          ))}
        </ul>
      </div>
      <button type="submit" className="btn btn-primary">
        Search
      </button>
    </form>
  );
}
