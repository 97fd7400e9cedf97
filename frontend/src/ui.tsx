// Small shared pieces: a modal dialog, labelled fields, the message area.
import type { ComponentChildren, Ref } from "preact";
import { useEffect, useRef } from "preact/hooks";

let nextId = 0;
export function uid(prefix: string): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A native modal <dialog>: focus is trapped, Escape closes it, the page behind is inert. */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useRef(uid("dialog-title")).current;
  useEffect(() => {
    const dialog = ref.current;
    // Whatever had focus (the button that opened it) gets it back when the dialog closes.
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      dialog?.close();
      // After this render and any it set off (an action's part leaving its tab re-renders
      // the board after the dialog has gone), so a button removed meanwhile is not chosen.
      setTimeout(() => returnFocus(opener), 0);
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={props.wide ? "dialog wide" : "dialog"}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        props.onClose();
      }}
    >
      <header class="dialog-head">
        <h2 id={titleId}>{props.title}</h2>
        <button type="button" class="icon-button" aria-label="Close" onClick={props.onClose}>
          ✕
        </button>
      </header>
      <div class="dialog-body">{props.children}</div>
    </dialog>
  );
}

/** Focus the element that opened a closed dialog; if it has gone (its part moved to another
 * tab), the board itself, so the next Tab does not start again from the top of the page. */
function returnFocus(opener: HTMLElement | null): void {
  if (document.activeElement?.closest("dialog[open]")) return; // another dialog has it already
  if (opener && opener !== document.body && opener.isConnected) opener.focus();
  else document.getElementById("content")?.focus();
}

export function TextField(props: {
  label: string;
  value: string;
  onInput: (value: string) => void;
  type?: string;
  required?: boolean;
  autoFocus?: boolean;
  hint?: string;
  list?: string;
  autoComplete?: string;
  /** The id of the message that says what is wrong with the value (aria-invalid with it). */
  errorId?: string | null;
  inputRef?: Ref<HTMLInputElement>;
}) {
  const id = useRef(uid("field")).current;
  const described = [props.hint ? `${id}-hint` : null, props.errorId].filter(Boolean).join(" ");
  return (
    <div class="field">
      {/* The mark sits beside the label, not in it: the field's name stays exactly the label. */}
      <div class="label-row">
        <label for={id}>{props.label}</label>
        {props.required ? <span aria-hidden="true">*</span> : null}
      </div>
      <input
        id={id}
        type={(props.type ?? "text") as "text"}
        value={props.value}
        required={props.required}
        autoFocus={props.autoFocus}
        list={props.list}
        autoComplete={props.autoComplete ?? "off"}
        ref={props.inputRef}
        aria-describedby={described || undefined}
        aria-invalid={props.errorId ? true : undefined}
        onInput={(event) => props.onInput((event.target as HTMLInputElement).value)}
      />
      {props.hint ? (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

export function SelectField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: [string, string][];
}) {
  const id = useRef(uid("select")).current;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(event) => props.onChange((event.target as HTMLSelectElement).value)}>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** An error said in words, announced to screen readers. */
export function ErrorText(props: { message: string | null; id?: string }) {
  if (!props.message) return null;
  return (
    <p class="error" role="alert" id={props.id}>
      {props.message}
    </p>
  );
}
