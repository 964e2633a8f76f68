/** The "Sign in to chat" screen of OIDC mode: why (if a sign-in failed) and the button that starts one. */
export class SignInView {
  readonly #section: HTMLElement;
  readonly #error: HTMLElement;
  readonly #button: HTMLButtonElement;

  constructor(section: HTMLElement, error: HTMLElement, button: HTMLButtonElement, onSignIn: () => Promise<void>) {
    this.#section = section;
    this.#error = error;
    this.#button = button;
    button.addEventListener("click", () => {
      button.disabled = true;
      onSignIn().catch((cause: unknown) => {
        button.disabled = false;
        this.show(`The sign-in service cannot be reached. Try again in a moment. (${String(cause)})`);
      });
    });
  }

  /** Shows the screen, with `error` if there is one, and focuses the button. */
  show(error?: string): void {
    this.#section.hidden = false;
    this.#button.disabled = false;
    this.#error.textContent = error ?? "";
    this.#error.hidden = !error;
    this.#button.focus();
  }

  hide(): void {
    this.#section.hidden = true;
  }
}
