/**
 * The topic's procedure as buttons. The server says what the signed-in
 * viewer may do to a topic now (`Topic.viewerActions`): each action is
 * either allowed, or blocked with the code and message its mutation would
 * answer. This module only orders those offers, says which need input
 * first (a reason, an outcome, a date…) and turns a blocked one's code into
 * words; it holds no rule of its own, so it never greys out what the
 * server would accept nor offers what it would refuse.
 *
 *   DRAFT → ANNOUNCED → OPEN → CLOSED → DECIDED → IMPLEMENTING → COMPLETED
 *   (WITHDRAWN from DRAFT, ANNOUNCED, OPEN or CLOSED)
 */
import type { TopicAction, TopicState } from '@/gql/graphql'
import { PROCEDURE_CODES } from '@/api/errors'

/** One entry of `Topic.viewerActions`. */
export interface Offer {
  action: TopicAction
  allowed: boolean
  blockedCode?: string | null
  blockedReason?: string | null
}

/** What an action needs before it can be sent. */
export type ActionInput =
  | 'navigate' // edit: the form page
  | 'confirm'
  | 'reason' // a public reason (withdraw, early close)
  | 'outcome' // the outcome dialog
  | 'countersign' // the countersignature dialog (shows the request's reason)
  | 'extend' // new deadline + reason

export interface ActionButton {
  action: TopicAction
  input: ActionInput
  type: 'primary' | 'default' | 'danger' | 'warning'
  allowed: boolean
  blockedCode: string | null
  /** The server's own words (English) for a blocked action. */
  blockedReason: string | null
}

/** The actions shown as buttons in the topic's header, in this order. */
export const HEADER_ACTIONS: readonly TopicAction[] = [
  'EDIT',
  'ANNOUNCE',
  'OPEN',
  'CLOSE',
  'REQUEST_EARLY_CLOSE',
  'COUNTERSIGN_EARLY_CLOSE',
  'PUBLISH_OUTCOME',
  'START_IMPLEMENTATION',
  'COMPLETE',
  'EXTEND_DEADLINE',
  'WITHDRAW',
]

const INPUT: Partial<Record<TopicAction, ActionInput>> = {
  EDIT: 'navigate',
  WITHDRAW: 'reason',
  REQUEST_EARLY_CLOSE: 'reason',
  PUBLISH_OUTCOME: 'outcome',
  COUNTERSIGN_EARLY_CLOSE: 'countersign',
  EXTEND_DEADLINE: 'extend',
}

const TYPE: Partial<Record<TopicAction, ActionButton['type']>> = {
  EDIT: 'default',
  WITHDRAW: 'danger',
  REQUEST_EARLY_CLOSE: 'warning',
  COUNTERSIGN_EARLY_CLOSE: 'warning',
  EXTEND_DEADLINE: 'default',
}

function button(o: Offer): ActionButton {
  return {
    action: o.action,
    input: INPUT[o.action] ?? 'confirm',
    type: TYPE[o.action] ?? 'primary',
    allowed: o.allowed,
    blockedCode: o.allowed ? null : (o.blockedCode ?? null),
    blockedReason: o.allowed ? null : (o.blockedReason ?? null),
  }
}

/** The header's buttons: exactly the header actions the server offers, in procedure order. */
export function headerButtons(offers: readonly Offer[]): ActionButton[] {
  return offers
    .filter((o) => HEADER_ACTIONS.includes(o.action))
    .map(button)
    .sort((a, b) => HEADER_ACTIONS.indexOf(a.action) - HEADER_ACTIONS.indexOf(b.action))
}

/** The server's offer of one action (undefined: not offered at all, show nothing). */
export function offerOf(offers: readonly Offer[], action: TopicAction): Offer | undefined {
  return offers.find((o) => o.action === action)
}

/** True when the server offers `action` and allows it now. */
export function allowed(offers: readonly Offer[], action: TopicAction): boolean {
  return offerOf(offers, action)?.allowed === true
}

/**
 * The i18n key that says in words why an offer is blocked: the procedure's
 * own codes have a message under `errors.procedure`, and a generic code
 * that means one thing for one action one under `admin.lifecycle.blocked`
 * (`CODE_ACTION`). Null when there is none: then the server's message is
 * shown as it is.
 */
export function blockedKey(o: Pick<Offer, 'action' | 'allowed' | 'blockedCode'>): string | null {
  if (o.allowed || !o.blockedCode) return null
  if ((PROCEDURE_CODES as readonly string[]).includes(o.blockedCode)) return `errors.procedure.${o.blockedCode}`
  const key = `${o.blockedCode}_${o.action}`
  return GENERIC_KEYS.includes(key) ? `admin.lifecycle.blocked.${key}` : null
}

/** Generic codes that mean one thing for one action (`CODE_ACTION`). */
export const GENERIC_KEYS: readonly string[] = [
  'BAD_USER_INPUT_ANNOUNCE',
  'BAD_USER_INPUT_REQUEST_EARLY_CLOSE',
  'CONFLICT_REQUEST_EARLY_CLOSE',
  'CONFLICT_COUNTERSIGN_EARLY_CLOSE',
  'FORBIDDEN_COUNTERSIGN_EARLY_CLOSE',
  'CONFLICT_FLAG_OUTCOME',
  'CONFLICT_FLAG_PROCEDURE',
]

/** An announced topic that the scheduler will open at `opensAt` (still ahead of `now`). */
export function opensAutomatically(topic: { state: TopicState; opensAt?: string | null }, now: number): boolean {
  return topic.state === 'ANNOUNCED' && !!topic.opensAt && Date.parse(topic.opensAt) > now
}

/**
 * True when the topic's time for a scheduled move (opening, closing) has
 * come and the page should look again: the server moves it by itself.
 */
export function scheduledMoveDue(topic: { state: TopicState; opensAt?: string | null; closesAt?: string | null }, now: number): boolean {
  if (topic.state === 'ANNOUNCED' && topic.opensAt) return Date.parse(topic.opensAt) <= now
  if (topic.state === 'OPEN' && topic.closesAt) return Date.parse(topic.closesAt) <= now
  return false
}

/** The order of the main path, for the steps bar. */
export const MAIN_PATH: readonly TopicState[] = ['DRAFT', 'ANNOUNCED', 'OPEN', 'CLOSED', 'DECIDED', 'IMPLEMENTING', 'COMPLETED']

/** The step index of a state on the main path (-1 for WITHDRAWN). */
export function stepOf(state: TopicState): number {
  return MAIN_PATH.indexOf(state)
}

/** Outcome, progress and corrections exist once a topic is decided. */
export function isDecided(state: TopicState): boolean {
  return state === 'DECIDED' || state === 'IMPLEMENTING' || state === 'COMPLETED'
}

/** Opinions (and so results and dissent) exist from the opening on. */
export function hasOpinions(state: TopicState): boolean {
  return state === 'OPEN' || state === 'CLOSED' || isDecided(state)
}

/** A supervision flag as far as resolving it goes. */
export interface FlagLike {
  subject: 'OUTCOME' | 'PROCEDURE'
  status: 'OPEN' | 'CORRECTED' | 'ACCEPTED' | 'DISMISSED'
}

/**
 * How a supervisor offered RESOLVE_FLAG on the topic may end one flag:
 * dismiss any unresolved flag; accept a procedure flag, or an outcome flag
 * once a corrected outcome answers it. The API offers RESOLVE_FLAG per
 * topic, not per flag, so this one distinction is repeated here (the
 * server refuses the rest with CORRECTION_REQUIRED); see the README.
 */
export function flagResolutions(flag: FlagLike, offers: readonly Offer[]): { accept: boolean; dismiss: boolean } {
  const may = allowed(offers, 'RESOLVE_FLAG') && (flag.status === 'OPEN' || flag.status === 'CORRECTED')
  return { accept: may && (flag.subject === 'PROCEDURE' || flag.status === 'CORRECTED'), dismiss: may }
}
