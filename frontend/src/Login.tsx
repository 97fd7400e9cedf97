// Sign in with the team's API key (checked against the server before it is kept), and
// optionally your name (sent as X-Actor with every change).
import { useEffect, useRef, useState } from "preact/hooks";
import { actorProblem, checkKey, explain, getActor, setActor } from "./api";
import { NameField } from "./Settings";
import { ErrorText, TextField } from "./ui";

export function Login(props: { onKey: (key: string) => void; reason: string | null }) {
  const [key, setKey] = useState("");
  const [name, setName] = useState(getActor());
  const [nameProblem, setNameProblem] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(props.reason);
  // Only a refused key marks the key field invalid (not "asked too soon" or a network error).
  const [keyRefused, setKeyRefused] = useState(false);
  const [busy, setBusy] = useState(false);
  const keyInput = useRef<HTMLInputElement>(null);
  // autofocus only counts when a page loads: after Sign out the form appears in a running page.
  useEffect(() => keyInput.current?.focus(), []);
  const submit = async (event: Event) => {
    event.preventDefault();
    const problem = actorProblem(name);
    setNameProblem(problem);
    if (problem) return;
    setBusy(true);
    setError(null);
    setKeyRefused(false);
    try {
      await checkKey(key.trim());
      setActor(name);
      props.onKey(key.trim());
    } catch (err) {
      const status = (err as { status?: number }).status;
      setKeyRefused(status === 401);
      setError(status === 401 ? "That API key is not valid. Ask your lead for the team's key." : explain(err));
      setBusy(false);
      keyInput.current?.focus(); // the disabled button dropped it
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} class="login-card" aria-labelledby="login-title">
        <h1 id="login-title">Aerie Part Management</h1>
        <p>Sign in with your team's API key.</p>
        <TextField
          label="API key"
          type="password"
          value={key}
          onInput={setKey}
          required
          autoFocus
          autoComplete="current-password"
          inputRef={keyInput}
          errorId={keyRefused ? "login-error" : null}
        />
        <NameField value={name} onInput={setName} problem={nameProblem} />
        <ErrorText message={error} id="login-error" />
        <button type="submit" class="button primary block" disabled={busy || !key.trim()}>
          Sign in
        </button>
      </form>
    </main>
  );
}
