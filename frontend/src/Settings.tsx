// Settings: who is using this browser (sent as X-Actor, shown in each part's history), and
// the installation's Onshape connection.
import { useRef, useState } from "preact/hooks";
import { ACTOR_MAX_LENGTH, actorProblem, getActor, setActor } from "./api";
import { OnshapePanel } from "./onshape";
import { Dialog, uid } from "./ui";

/** "Your name": optional, checked as the server checks X-Actor, the problem said in words. */
export function NameField(props: { value: string; onInput: (value: string) => void; problem: string | null }) {
  const id = useRef(uid("name")).current;
  return (
    <div class="field">
      <label for={id}>Your name</label>
      <input
        id={id}
        type="text"
        value={props.value}
        autoComplete="name"
        aria-invalid={props.problem ? "true" : undefined}
        aria-describedby={`${id}-hint${props.problem ? ` ${id}-problem` : ""}`}
        onInput={(event) => props.onInput((event.target as HTMLInputElement).value)}
      />
      <p class="hint" id={`${id}-hint`}>
        Optional. Each part's history shows it as who made a change (at most {ACTOR_MAX_LENGTH} characters, no commas).
      </p>
      {props.problem ? (
        <p class="error" id={`${id}-problem`} role="alert">
          {props.problem}
        </p>
      ) : null}
    </div>
  );
}

function NameForm() {
  const [name, setName] = useState(getActor());
  const [problem, setProblem] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const submit = (event: Event) => {
    event.preventDefault();
    const found = actorProblem(name);
    setProblem(found);
    if (found) {
      setSaved(null);
      return;
    }
    setActor(name);
    setSaved(getActor() ? `Saved. Your changes are recorded as ${getActor()}.` : "Saved. Your changes are recorded without a name.");
  };
  return (
    <form class="settings-section" onSubmit={submit} aria-labelledby="name-title" noValidate>
      <h3 id="name-title">Who you are</h3>
      <NameField
        value={name}
        onInput={(value) => {
          setName(value);
          setSaved(null);
        }}
        problem={problem}
      />
      {saved ? <p role="status">{saved}</p> : null}
      <div class="button-row start">
        <button type="submit" class="button primary">
          Save name
        </button>
      </div>
    </form>
  );
}

export function SettingsDialog(props: { title: string; onClose: () => void }) {
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <NameForm />
      <OnshapePanel />
    </Dialog>
  );
}
