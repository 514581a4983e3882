/** Shows any thrown error as a toast in the user's language. */
import { showFailToast } from 'vant'
import 'vant/es/toast/style/index'
import { useErrorText } from '@/i18n'

export function useToastError(): (err: unknown) => void {
  const text = useErrorText()
  return (err) => {
    showFailToast({ message: text(err), wordBreak: 'break-word', duration: 3500 })
  }
}
