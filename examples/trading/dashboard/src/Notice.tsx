import { describe } from "./api";

/** Notice shows an error as a sentence, announced to screen readers. */
export function Notice({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (!error) {
    return null;
  }
  return (
    <div className="notice error" role="alert">
      <p>{describe(error)}</p>
      {onDismiss && (
        <button type="button" className="link" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}
