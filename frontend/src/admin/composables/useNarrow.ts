/**
 * Whether the admin panel is on a narrow screen (a phone, ≤ 768 px): the
 * menu folds into a drawer, forms put labels above their fields, and the
 * pages not made for phones say so.
 */
import { onBeforeUnmount, ref, type Ref } from 'vue'

export const NARROW_QUERY = '(max-width: 768px)'

export function useNarrow(): Ref<boolean> {
  const query = typeof window !== 'undefined' && window.matchMedia ? window.matchMedia(NARROW_QUERY) : null
  const narrow = ref(query?.matches ?? false)
  const update = (e: MediaQueryListEvent) => (narrow.value = e.matches)
  query?.addEventListener('change', update)
  onBeforeUnmount(() => query?.removeEventListener('change', update))
  return narrow
}
