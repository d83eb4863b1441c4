/**
 * The only way the client makes DOM: elements from a tag, attributes and children, where
 * every string child becomes a text node and every attribute is set as a plain value. No
 * HTML is ever parsed from a string (the page's Trusted Types policy would refuse it
 * anyway), links may only point at paths of this gateway, and attributes that load or run
 * something (src, srcdoc, style, on...) cannot be set from data at all.
 */

export type Child = Node | string | number | null | undefined | false | readonly Child[];
type Handler = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

const FORBIDDEN = /^(src|srcdoc|style|action|formaction|xlink:href|innerhtml|outerhtml)$/i;

/** A path of this gateway: '/x...', never '//host' or a scheme. */
export function isLocalPath(href: string): boolean {
  return /^\/(?![/\\])/.test(href) && !/[\s\\]/.test(href);
}

function setAttrs(element: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') {
      if (!/^on[a-z]+$/.test(name)) throw new Error(`handler for ${name}: name it on<event>`);
      element.addEventListener(name.slice(2), value);
      continue;
    }
    if (FORBIDDEN.test(name) || (/^on/i.test(name))) throw new Error(`attribute ${name} cannot be set`);
    const text = value === true ? '' : String(value);
    if (name === 'href' && !isLocalPath(text)) throw new Error(`link to ${JSON.stringify(text)} refused: only paths of this gateway`);
    element.setAttribute(name, text);
  }
}

function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** An HTML element. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  setAttrs(element, attrs);
  append(element, children);
  return element;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element (the charts). */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  setAttrs(element, attrs);
  append(element, children);
  return element;
}

/** Replaces an element's children. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
