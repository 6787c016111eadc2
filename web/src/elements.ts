/** The page's fixed parts (web/index.html), found once at start-up. */
import { byId } from './dom.js';

export interface PageElements {
  main: HTMLElement;
  signin: HTMLElement;
  signinForm: HTMLFormElement;
  tokenInput: HTMLTextAreaElement;
  signinError: HTMLElement;
  signOut: HTMLButtonElement;
  session: HTMLElement;
  live: HTMLElement;
  identity: HTMLElement;
  workspace: HTMLElement;
  filterForm: HTMLFormElement;
  prefixInput: HTMLInputElement;
  pageSize: HTMLSelectElement;
  newKey: HTMLButtonElement;
  keysError: HTMLElement;
  keyRows: HTMLElement;
  keysEmpty: HTMLElement;
  keysCaption: HTMLElement;
  prevPage: HTMLButtonElement;
  nextPage: HTMLButtonElement;
  pageLabel: HTMLElement;
  detail: HTMLElement;
  detailTitle: HTMLElement;
  detailBody: HTMLElement;
  toast: HTMLElement;
}

/** Every fixed element; throws when the page lacks one. */
export function findElements(): PageElements {
  return {
    main: byId('main'),
    signin: byId('signin'),
    signinForm: byId('signin-form'),
    tokenInput: byId('token'),
    signinError: byId('signin-error'),
    signOut: byId('sign-out'),
    session: byId('session'),
    live: byId('live'),
    identity: byId('identity'),
    workspace: byId('workspace'),
    filterForm: byId('filter'),
    prefixInput: byId('prefix'),
    pageSize: byId('page-size'),
    newKey: byId('new-key'),
    keysError: byId('keys-error'),
    keyRows: byId('key-rows'),
    keysEmpty: byId('keys-empty'),
    keysCaption: byId('keys-caption'),
    prevPage: byId('prev-page'),
    nextPage: byId('next-page'),
    pageLabel: byId('page-label'),
    detail: byId('detail'),
    detailTitle: byId('detail-title'),
    detailBody: byId('detail-body'),
    toast: byId('toast'),
  };
}
