/** Unread notification count for the tab bar badge (one fetch per page view of the layout). */
import { ref } from 'vue'
import { graphql } from '@/gql'
import { gqlRequest } from '@/api/client'
import { useAuthStore } from '@/stores/auth'
import { watch } from 'vue'

const UnreadDocument = graphql(`
  query UnreadNotifications {
    notifications(unreadOnly: true, first: 99) {
      id
    }
  }
`)

const count = ref(0)

export async function refreshUnread(): Promise<void> {
  try {
    const data = await gqlRequest(UnreadDocument)
    count.value = data.notifications.length
  } catch {
    count.value = 0
  }
}

export function useUnread() {
  const auth = useAuthStore()
  watch(
    () => auth.user?.id,
    (id) => {
      if (id) void refreshUnread()
      else count.value = 0
    },
    { immediate: true },
  )
  return { count, refresh: refreshUnread }
}
