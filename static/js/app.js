// Start the GOV.UK Frontend components (error summary focus, character counts, ...).
import { initAll } from '../govuk/govuk-frontend.min.js'
initAll()
