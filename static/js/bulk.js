// Follows a bulk screening job without reloading: polls its status, moves the bar, and
// reloads the page once the job has finished so its hits and summary show.
const box = document.querySelector('[data-bulk-status]')
if (box && ['validating', 'running'].includes(box.dataset.bulkState)) {
  const bar = box.querySelector('[data-bulk-bar]')
  const text = box.querySelector('[data-bulk-text]')
  const number = (n) => (n ?? 0).toLocaleString('en')
  const tick = async () => {
    try {
      const response = await fetch(box.dataset.bulkStatus, { headers: { Accept: 'application/json' } })
      if (!response.ok) throw new Error(String(response.status))
      const s = await response.json()
      bar.value = s.percent
      bar.textContent = `${s.percent}%`
      const total = s.reading ? `… (${number(s.lines_read)} read so far)` : number(s.total)
      const eta = s.eta_seconds == null ? '' : ` · about ${s.eta_seconds} s left`
      text.textContent = `${number(s.lines_done)} of ${total} lines screened · ${number(s.hits)} hits${eta}`
      if (!['validating', 'running'].includes(s.state)) {
        window.location.reload()
        return
      }
    } catch (error) {
      text.textContent += ' (progress unavailable, retrying)'
    }
    setTimeout(tick, 1000)
  }
  setTimeout(tick, 1000)
}
