import { useId, type ButtonHTMLAttributes } from "react";

type Props = ButtonHTMLAttributes<HTMLButtonElement> & {
  scope: string;
  granted: string[];
};

/**
 * ScopedButton is disabled when the signed-in user's token lacks scope. The
 * reason is in the tooltip (title) and, for keyboard and screen-reader users
 * who never see a tooltip, in a visible note the button is described by.
 */
export function ScopedButton({ scope, granted, disabled, children, ...rest }: Props) {
  const noteId = useId();
  const missing = !granted.includes(scope);
  const reason = `Requires the ${scope} scope, which your sign-in does not include`;
  return (
    <span className="scoped">
      <button
        {...rest}
        disabled={missing || disabled}
        title={missing ? reason : rest.title}
        aria-describedby={missing ? noteId : undefined}
        data-missing-scope={missing ? scope : undefined}
      >
        {children}
      </button>
      {missing && (
        <small id={noteId} className="missing-scope">
          Missing scope: {scope}
        </small>
      )}
    </span>
  );
}
