// DOM helpers shared by the webviews. Text from files only ever goes in through textContent or
// setAttribute, never as HTML, so a hostile name or config value cannot create elements.

/** The part of VS Code's webview API the pages use, typed by each page's message contract. */
export interface VsCodeApi<From, State> {
  postMessage(m: From): void;
  getState(): State | undefined;
  setState(s: State): void;
}
declare function acquireVsCodeApi<From, State>(): VsCodeApi<From, State>;

/** May be called once per page: VS Code throws on a second acquireVsCodeApi(). */
export function vscodeApi<From, State>(): VsCodeApi<From, State> {
  return acquireVsCodeApi<From, State>();
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svgEl<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export const $ = (id: string) => document.getElementById(id)!;

/** The page's #message line: the text shown, or hidden when there is none. */
export function showMessage(text: string | undefined): void {
  $('message').textContent = text ?? '';
  $('message').hidden = text === undefined;
}

/** Messages can arrive faster than frames: run `draw` at most once per animation frame. */
export function frameScheduler(draw: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  };
}
