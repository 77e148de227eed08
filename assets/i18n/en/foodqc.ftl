# foodqc, English: the fallback catalogue. Every message id used in the code is checked
# against this file at compile time (fl!). Keep ids grouped by screen.

## Shared

items-count = { $count ->
    [one] { $count } item
   *[other] { $count } items
}
verdict-pass = pass
verdict-review = review
verdict-reject = reject
any = any
cancel = Cancel
ok = OK

## Defect classes (the database keeps the English keys; only the display is translated)

class-good = good
class-crack = crack
class-burnt = burnt
class-discoloration = discoloration
class-mold = mould / rot
class-foreign-matter = foreign matter
class-deformed = deformed
class-missing-piece = missing piece
class-unclassified = unclassified

## Tabs and the top bar

tab-live = Live
tab-label = Label
tab-train = Train
tab-thresholds = Thresholds
tab-reports = Reports
top-pause = ⏸ Pause
top-resume = ▶ Resume
top-pause-tip = Pause or resume the line view (Space)
top-help-tip = Keyboard shortcuts (F12)
top-theme-tip = Light / dark theme
top-language-tip = Language of the workstation
top-source = Source
top-synthetic = Synthetic line
top-no-camera = No camera found
top-camera = Camera { $index }: { $name }
top-folder-hint = folder to replay
top-replay = Replay folder
source-synthetic = Synthetic line (seed { $seed })
source-camera = Camera { $index }
source-folder = Folder { $name }
window-open-failed = cannot open the window: { $error }
no-camera-notice = No camera found: running the built-in synthetic line. Pick a camera or a folder in the source menu.
desk-stopped = the desk worker has stopped

## Keyboard shortcuts sheet

keys-title = Keyboard shortcuts
keys-tabs = Live, Label, Train, Reports
keys-space = Space
keys-pause = Pause / resume the line view
keys-heat = Heat map on / off
keys-capture = Capture the items of the next frame for labelling
keys-label-class = Label tab: good (0) or the defect class with that key
keys-up-down = Up, Down
keys-label-move = Label tab: previous / next sample
keys-label-undo = Label tab: undo the last label
keys-label-mask = Label tab: paint a defect mask
keys-f12 = F12 or ?
keys-this-sheet = This sheet

## Status bar

status-ui-time = UI { $ms } ms p95
status-recording-error = ⚠ recording: { $error } · in journal { $journal }
status-recorded = recorded { $recorded } · pending { $pending } · in journal { $journal }
status-source-synthetic = synthetic line { $width }×{ $height } (seed { $seed })
status-source-folder-once = folder { $dir } ({ $images ->
        [one] 1 image
       *[other] { $images } images
    }, once)
status-source-folder-loop = folder { $dir } ({ $images ->
        [one] 1 image
       *[other] { $images } images
    }, in a loop)

## Live tab
live-model = Model
live-items-inspected = Items inspected
live-rejected = Rejected
live-to-review = To review
live-reject-rate = Reject rate
live-reject-rate-trend = reject rate, last 2 min
live-heat-map = Heat map (H)
live-scores = Scores
live-capture = 📷 Capture for labelling (C)
live-capture-tip = Save the items of the next frame as samples for the Label tab
live-lot = Lot
live-lot-hint = lot code
live-lot-apply = Apply
live-lot-apply-tip = Record the next items under this lot
live-waiting = Waiting for the first frame…
live-paused = ⏸ PAUSED
live-fps = Frames / s
live-inspection-time = Inspection
live-dropped = Dropped frames
live-frames = Frames
live-skipped-files = Skipped files
live-legend = Legend
live-legend-pass = solid outline: pass
live-legend-reject = thick dashed outline: reject
live-legend-review = short dashes, ?: review (to labelling)
live-legend-partial = grey: entering / leaving, not judged yet
live-legend-heat = magenta: defect region
live-not-running = The line is not running:
    { $error }
live-alarm = ALARM  { $message }
live-lot-on-hold = LOT { $lot } IS ON HOLD: its product must not ship until QC releases it
live-tag-reject = ✖ REJECT{ $class } { $score }
live-tag-review = ? REVIEW{ $class } { $score }

## Reports tab: lot disposition and export
reports-disposition = Lot disposition
reports-comment-hint = comment (required): why hold or release
reports-hold-lot = Hold lot
reports-release-lot = Release lot
reports-disposition-disabled = Choose a lot and write a comment first
reports-choose-lot = choose a lot
reports-export = Export
reports-export-note = The filtered inspections as CSV; the report as PDF.
reports-quick-csv = Quick CSV
reports-quick-pdf = Quick PDF
reports-cancel-export = Cancel export
reports-lot-held = { $code } (HOLD)
reports-status-hold = Status: { $status } (must not ship)
reports-status = Status: { $status }
reports-last-change = last change by { $who }, { $when }: { $comment }
reports-save-into = Save into { $dir }
reports-export-running = { $format } export running
lot-status-open = open
lot-status-hold = on hold
lot-status-released = released
report-title = foodqc quality report

## Report queries and SPC (library, shared by the window, the CLI and the PDF)

group-lot = lot
group-hour = hour
group-shift = shift
group-station = station
query-hours = by hour (summary, drift)
query-pareto = pareto
query-lots = lots
query-groups = by { $group }
spc-rule-1 = rule 1: a point beyond 3 sigma
spc-rule-2 = rule 2: 2 of 3 points beyond 2 sigma, same side
spc-rule-3 = rule 3: 4 of 5 points beyond 1 sigma, same side
spc-rule-4 = rule 4: 8 points in a row on one side of the centre
spc-alarm = Reject rate out of control: { $rate } (centre { $centre }, upper limit { $limit }): { $rules }
filter-between = { $from } to { $to }
filter-from = from { $from }
filter-until = until { $to }
filter-all-time = all time
filter-station = station
filter-line = line
filter-lot = lot
filter-product = product
filter-shift = shift
filter-verdict = verdict
filter-defect = defect
filter-recipe = recipe
filter-model = model

## Reports tab: charts
reports-running = Running the report…
reports-no-match = No inspections match these filters.
reports-pareto-title = Pareto of defect classes (rejects); line: cumulative %. Click a bar.
chart-rejects = rejects
chart-cumulative = cumulative
chart-reject-proportion = reject proportion
chart-ucl = UCL
chart-lcl = LCL
chart-centre = centre
chart-in-control = in control
chart-out-of-control = out of control
reports-pchart-tip = Click a point to see the items behind it
reports-review = Review
reports-out-of-control = Out of control
reports-drift-title = Drift: mean score of passed items per hour; dashed: training 95th percentile
chart-training-p95 = training p95
chart-mean-score = mean score
chart-drifting = drifting
reports-heading-plant = Plant quality report: { $filter }
reports-plant-need-url = Type the plant database address (postgres://USER@HOST:PORT/DB) on the left and press Open.
reports-heading = Quality report: { $filter }
reports-pchart-title = p-chart by { $group } (centre { $centre }; 3-sigma limits per subgroup size; red squares: out of control). Click a point for its items.
reports-group-key = { $group } { $key }
reports-drill-defect = defect { $class }
reports-ooc-count = { $group ->
    [lot] { $n } of { $total } lots
    [hour] { $n } of { $total } hours
    [shift] { $n } of { $total } shifts
   *[other] { $n } of { $total } stations
}
reports-drift-warning = { $hours ->
    [one] WARNING: score drift in { $hours } hour: more than { $share } of passed items score above the training 95th percentile (expected { $expected }). Check lighting, camera and product, or retrain.
   *[other] WARNING: score drift in { $hours } hours: more than { $share } of passed items score above the training 95th percentile (expected { $expected }). Check lighting, camera and product, or retrain.
}

## Reports tab: drill-down and filters
reports-drill = Drill-down
reports-drill-hint = click a p-chart point, a Pareto bar or a subgroup below
reports-rejects-only = rejects only
reports-next-click = Applies to the next click
reports-images-only = with images only
reports-images-only-tip = Only items whose crop was saved; applies to the next click
reports-col-items = items
reports-col-rate = rate
reports-col-status = status
reports-col-rules = rules
reports-hold-badge = HOLD
reports-col-image = image
reports-col-time = time (plant)
reports-col-verdict = verdict / class
reports-col-score = score
reports-database = Database
reports-db-station = This station
reports-db-plant = Plant
reports-db-plant-tip = Every station's records, as the plant collector stored them in PostgreSQL. Read-only here: lots are held and released at their station. The password is not saved.
reports-plant-url-hint = postgres://qc@plant-db:5432/foodqc
reports-plant-open = Open
reports-disposition-plant = To decide from the plant view, set Plant Kafka in the line outputs: the decision goes to the stations through it.
reports-filters = Filters
reports-from = From
reports-to = To
reports-time-tip = Plant time ({ $zone }): 2026-11-20 or 2026-11-20 06:00. An RFC 3339 time with an offset is taken as written.
reports-station = Station
reports-line = Line
reports-product = Product
reports-shift = Shift
reports-verdict = Verdict
reports-defect = Defect
reports-chart-by = Chart by
reports-apply-tip = Run the report for these filters
reports-clear = Clear
reports-querying = running the report queries
reports-drill-count = { $count ->
    [one] { $title }: { $count } item (latest first, at most 300)
   *[other] { $title }: { $count } items (latest first, at most 300)
}
reports-rule = rule { $number }
reports-out = OUT: { $rules }
reports-queries-took = Queries took { $ms } ms:
apply = Apply

## Thresholds tab
thr-score-file-hint = <model>_scores.json from foodqc eval
thr-load = Load
thr-load-tip = Read the score file and the last 10,000 production scores
thr-no-scores = No scores loaded. Run `foodqc eval --dataset DIR` to score a labelled set, or label production samples.
thr-pixel = Heat-map cells above
thr-pixel-tip = What counts as a defect region in the live overlay
thr-reject-above = Reject above
thr-reject-threshold = Reject threshold
thr-review-from = Review band from
thr-review-tip = Items between the two thresholds go to a person (labelling queue)
thr-review-to = to the reject threshold
thr-review-threshold = Review threshold
thr-snap = Snap to
thr-max-f1 = max F1
thr-max-f1-tip = The threshold with the best F1 on the labelled set
thr-escape = escape <=
thr-escape-tip = The highest threshold that lets at most this share of defective items pass
thr-no-defective = No defective items in the set.
thr-false-reject = false reject <=
thr-false-reject-tip = The lowest threshold that rejects at most this share of good items
thr-no-good = No good items in the set.
thr-precision = Precision
thr-recall = Recall
thr-false-rejects = False rejects
thr-escapes = Escapes
thr-per-class = Per defect class
thr-per-class-note = Own reject thresholds are used when a defect classifier names the class; otherwise the reject threshold above applies.
thr-col-class = class
thr-col-recall = recall
thr-col-own = own threshold
thr-live = Live:
thr-why = Why
thr-why-hint = e.g. max F1 on cookies eval
thr-apply = Apply to the line
thr-apply-tip = Save as a setting of the live model version (audit log) and judge with it at once
thr-back = Back to live
thr-back-tip = Discard the changes in this tab
thr-history = History of this model version
thr-in-force = in force
thr-revert = Revert
thr-rejected = rejected
thr-passed = passed
thr-defective = defective
thr-escapes-tip = escapes: defective items that pass
thr-good = good
thr-false-rejects-tip = false rejects: good items thrown away
thr-loading = loading scores
thr-scores-curves = Scores and curves
thr-pixel-preview = Pixel threshold preview
n-a = n/a
thr-load-first = Load scores to see their histograms and curves.
thr-hist-title = Score histogram per true class · click or drag to move the reject threshold
chart-review-band = review band
chart-review-threshold = review threshold
chart-reject-threshold = reject threshold
chart-production = production (scaled)
chart-false-reject-rate = false-reject rate
chart-precision = precision
chart-operating-point = operating point
thr-preview-good = good: no defect pixels
thr-preview-load-first = Load a score file first: the preview uses its test images.
thr-preview-scoring = scoring preview images
thr-pixel-threshold = Pixel threshold
thr-preview-note = cells above it are defect regions (boxes, solid magenta); fainter cells are above half of it. Truth mask on the right.
thr-set-summary = { $items } labelled items: { $good } good, { $defective } defective · AUROC { $auroc } · AP { $ap }
thr-at = At { $threshold }
thr-bands = Bands (good / defective): pass { $pg } / { $pd } · review { $vg } / { $vd } · reject { $rg } / { $rd }
thr-production = On the last { $count } production items: { $rejected } rejected, { $review } to review
thr-live-setting = reject { $reject }{ $review }, pixel { $pixel }
thr-live-review = , review from { $review }
thr-pixel-tip-value = pixel { $pixel }
thr-revert-reason = revert to #{ $id }
thr-roc-title = ROC · AUROC { $auroc }
thr-pr-title = Precision-recall · AP { $ap }

## Label tab: queue
label-queue = Queue
label-captured = Captured
label-predicted = Predicted
label-no-item = no item found
label-any-time = any time
label-last-24h = last 24 h
label-last-7d = last 7 days
label-queue-empty = Nothing to label. Press C on the Live tab to capture the items of a frame; rejects and near misses are captured automatically (at most 30 a minute).
label-unscored = unscored
label-queue-note = Most uncertain first under model { $model } (score closest to its threshold { $threshold }).
label-waiting = { $count ->
    [one] { $count } sample waiting
   *[other] { $count } samples waiting
}

## Label tab: import and export
files-images = images
files-heading = Import and export
files-import-files = Import files…
files-import-folder = Import folder…
files-import-folder-tip = A folder of images; an MVTec-style tree (train/good, test/<class>) or an export keeps its labels
files-export = Export labelled set…
starting = starting
files-drop = Or drop images or folders on the window.
files-import-title = Import images
files-import-folder-title = Import a folder of images (an MVTec-style tree keeps its labels)
files-export-title = Export the labelled set (an empty folder)

## Label tab: sample and classes
label-no-sample = No sample selected
label-mask = Mask (M)
label-mask-tip = Paint the defect region: drag to paint, right-drag to erase
label-brush = brush px
label-clear-mask = Clear mask
label-undo = Undo (Z)
label-keys = 0–9 label · Up/Down move · Z undo · M mask
label-no-lot = no lot
label-counts = Label counts
label-no-labels = No labels yet.
label-classes = Defect classes
label-new-class = new class
label-add = Add
label-remove-class = Remove this class
label-good-button = 0  good
label-sample = Sample #{ $id }
label-score = score { $score } (threshold { $threshold })

## Train tab
train-live-model = Live model
train-heading = Retrain from labelled samples
train-start = Train new model
train-start-tip = Runs in the background; the line keeps running
train-cancel = Cancel training
train-no-metrics = no metrics
train-frame-stats = median { $median } ms, p95 { $p95 } ms, max { $max } ms
train-labelled = { $total } labelled samples ({ $good } good, { $defective } defective). The anomaly detector learns good product; with three or more samples in two classes a grade classifier is trained too.
train-done = Trained { $version } in { $seconds } s: { $metrics }. Promote it below to make it live.
train-skipped = { $count ->
    [one] { $count } sample skipped (no item found or unreadable)
   *[other] { $count } samples skipped (no item found or unreadable)
}
train-frame-time = Frame time while it ran ({ $frames } frames): whole frame { $whole }; of which our UI code { $ui }
train-progress = { $stage } { $done }/{ $total } · { $seconds } s{ $eta }
train-eta =  · about { $seconds } s left in this step
metric-good-defective = { $good } good / { $defective } defective
metric-recall = recall { $value }
metric-false-rejects = false rejects { $value }
metric-auroc = AUROC { $value }
stage-gathering = gathering labelled samples
stage-measuring = measuring items
stage-evaluating = cross-validating
stage-fitting = fitting the anomaly detector
stage-tier = choosing the detector tier
stage-classifier = fitting the grade classifier
stage-saving = saving the model version

## Train tab: model versions
train-versions = Model versions
train-rollback = Roll back
train-no-earlier = No earlier live version
train-col-compare = compare
train-col-version = version
train-col-trained = trained
train-col-kind = kind
train-kind-anomaly = anomaly
train-col-metrics = metrics
train-tick-two = Tick two versions to compare them side by side.
train-comparison = Comparison
train-col-metric = metric
train-rollback-tip = Make { $version } live again
train-publish = Publish to plant…
train-publish-recipe = Recipe
train-publish-tip = Send { $version } to the plant's stations that run recipe { $recipe }; they switch to it between two frames. You sign again.
train-publish-no-plant = Set Plant Kafka (Live, Line outputs) to publish to the plant
train-publish-no-version = Only a version approved at this PC can go to the plant: approve one first
train-publish-no-recipe = No recipe here: make one in the recipe editor (Live, Recipes…)
train-publish-record = model { $version } for the plant's stations of recipe { $recipe }
train-db-error = ⚠ Database: { $error }
train-no-versions = No trained versions yet: the live model is { $version } (bundled).
train-live-version = ▶ { $version } (live)
train-decisions = { $version }: decisions

## Desk worker messages (status lines of the window)

desk-line-outputs-set = Line outputs set ({ $n } addresses); the station restarts with them
desk-recipe-saved = Recipe { $recipe } saved by { $by }
desk-recipe-choose-file = Choosing the file…
desk-recipe-read = Recipe { $recipe } read from { $path }: check it, then save it here
desk-recipe-no-file = No file chosen
desk-plant-lot-no-plant = open the plant database in the Reports tab first
desk-plant-lot-sent = lot { $code }: { $status } signed by { $actor }; command { $command } goes to the stations through the plant's Kafka
desk-lot-set = Lot { $code } set to { $status } by { $actor }
desk-csv-progress = CSV: { $rows } rows written
desk-csv-done = { $rows ->
    [one] Wrote { $rows } row to { $path }
   *[other] Wrote { $rows } rows to { $path }
}
desk-pdf-done = Wrote { $path } ({ $kb } kB)
desk-export-cancelled = Export cancelled (no file chosen; without a file dialog use Quick export)
desk-scores-loaded = Loaded { $source }.
desk-thresholds-applied = Applied as setting #{ $id }: the line judges with it from the next frame.
desk-not-applied = Not applied: { $error }
desk-previews-scored = Scored { $count } preview images.
desk-trained = trained { $version }
desk-training-running = a training job is already running

## Command line: help texts (ids follow the command tree: cli-<command>-<argument>; see
## src/cli/help.rs) and messages

cli-default = default: { $value }
cli-usage-options = [OPTIONS]
cli-usage-command = [COMMAND]
cli-usage-command-required = <COMMAND>
cli-err-unknown-argument = unexpected argument { $arg }
cli-err-unknown-command = unknown command { $command }
cli-err-invalid-value = invalid value { $value } for { $arg }; possible values: { $valid }
cli-err-value-validation = invalid value { $value } for { $arg }: { $reason }
cli-err-missing-argument = a required argument was not given: { $arg }
cli-err-more-help = For more information, try --help.
cli-heading-usage = Usage
cli-heading-options = Options
cli-heading-commands = Commands
cli-help-flag = Print help
cli-version-flag = Print version
cli-error = error: { $error }
cli-about = foodqc: inspection workstation for food processing lines. Without a subcommand the workstation window opens (camera 0 if one is attached, else the built-in synthetic line). Subcommands run the same station code without a window.
cli-data-dir = Where the database, samples, models and logs live [default: the user data dir, ~/.local/share/foodqc on Linux].
cli-model = Model file to judge with [default: the bundled model].
cli-source = Frame source for the window: camera:N, folder:PATH or synthetic[:SEED] [default: camera:0 when a camera is found, else synthetic]; repeat it to watch several cameras in a grid.
cli-lang = Language of the window, messages, help and reports: en or es [default: from the locale, LC_ALL / LC_MESSAGES / LANG; in the window, the language last chosen there].
cli-inspect-about = Run the station headless on a source and record every inspection in the database.
cli-train-about = Train an anomaly model on the good items of a source (e.g. a folder of good product photos, or the synthetic line) and save it with its model card.
cli-demo-samples-about = Capture item crops from the synthetic line into the data folder's samples, labelled from its ground truth (or not, with --unlabelled): a way to try labelling and retraining without a camera.
cli-eval-about = Train on a dataset's good images and evaluate on its test images: image and pixel AUROC, precision/recall/F1, confusion matrix, threshold, timings.
cli-snapshot-about = Inspect a few frames and save them with their overlays as PNG files.
cli-import-about = Import images from disk as samples for labelling: files, folders, MVTec-style trees and folders written by `foodqc export`.
cli-export-about = Export the labelled samples as an MVTec-style folder with labels.csv.
cli-report-recipe = Only items judged under this recipe.
cli-report-about = Quality report from the database: totals, p-chart by lot or hour (with the Western Electric rules), Pareto of defect classes, score drift; optionally written as PDF and/or CSV.
cli-bench-about = Time every stage of the pipeline on JPEG bytes in memory and print median and p95 per stage.
cli-alarms-about = Simulated hours of production through the real inspector and the report's alarm rules (p-chart run rules, score drift): how often they fire on a stable line, and how soon a dimming lamp is caught.
cli-soak-about = Run the live station on the synthetic line for N minutes with recording, sampling memory, rows and the recorder queue; print the memory slope and the rows lost.
cli-backup-about = Write a consistent copy of the database (the station may keep recording); a daily copy is also kept in the data folder's backups (the last 7).
cli-restore-about = Replace the database by a backup (checked first; the replaced database is kept beside it).
cli-report-from = From this time on, in plant time (America/Lima, or $FOODQC_TZ): 2026-11-20, "2026-11-20 08:00" or RFC 3339 with an offset.
cli-report-to = Up to this time, in plant time (exclusive).
cli-report-lot = Lot code.
cli-report-station = Station name.
cli-report-line = Production line.
cli-report-product = Product.
cli-report-shift = Shift.
cli-report-verdict = Verdict: pass, reject or review.
cli-report-defect = Defect class (`unclassified` for rejects without one).
cli-report-model-version = Model version.
cli-report-by = Subgroups of the p-chart: lot, hour, shift or station.
cli-report-pdf = Write the PDF report here.
cli-report-csv = Write the filtered inspections here as CSV (English column names).
cli-report-json = Print the report as JSON.
cli-report-hold = Put this lot on hold before reporting (needs --comment; recorded in the audit log).
cli-report-release = Release this lot before reporting (needs --comment; recorded in the audit log).
cli-report-comment = Why the lot is held or released.
cli-report-user = Who holds or releases the lot: a QC manager, who signs the decision (password from FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE or a prompt). Also the PDF's author [default: the OS user].
cli-report-kafka = With --plant and --hold or --release: the plant's brokers, HOST:PORT[,HOST:PORT].
cli-report-plant-needs-kafka = a lot decision from the plant view goes to the stations through the plant's Kafka: add --kafka HOST:PORT
cli-report-plant-lot-sent = lot { $code }: { $status } sent to the stations (by { $actor }; command { $command }; { $pending } messages still waiting)
cli-report-plant = Report over the plant database (every station, as the collector stored it) instead of this station's: postgres://USER[:PASSWORD]@HOST:PORT/DB. With --hold or --release the decision goes to every station that has the lot (needs --kafka).

# Options of the other commands; `cli-arg-<arg>` serves the source options several share.
cli-inspect-frames = Stop after N frames (a folder stops at its end anyway).
cli-inspect-lot = Lot code to record under.
cli-inspect-product = Product of the lot.
cli-inspect-line = Production line.
cli-inspect-shift = Shift.
cli-inspect-station = Station name (one per line PC / camera).
cli-inspect-live = Pace to the source FPS and drop frames when behind, as on a live line (default: inspect every frame as fast as possible).
cli-inspect-loop-folder = Replay a folder again from the start when it ends (needs --frames to stop).
cli-inspect-json = Print the summary as JSON.
cli-train-frames = Frames to take good items from (with --out).
cli-train-stride = Look at every Nth frame only (on a conveyor an item stays in view for many frames).
cli-train-out = Train on the good items of --source and write the model to FILE. Without --out, train on the labelled samples of the data folder and register a new model version there.
cli-train-eval-frames = Also check the model against ground truth on this many frames of synthetic:SEED+1000 (with --out and a synthetic source).
cli-train-propose = Propose the new version for the line with this reason (a signature meaning "performed"); a QC manager approves it with `foodqc model approve`. Labelled-sample training only.
cli-train-user = Who trains: a signed-in data scientist (labelled-sample training only; password from FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE or a prompt).
cli-train-tier = Detector tier: classical (hand-made features), deep (pretrained network patches), or auto (both fitted on half the good items, the one that best finds synthetic defects made on the other half is kept; the faster on a tie). The choice is on the model card.
cli-demo-samples-count = Samples to capture.
cli-demo-samples-seed = Seed of the synthetic line.
cli-demo-samples-unlabelled = Leave the samples unlabelled (for the labelling queue).
cli-demo-samples-user = Who captures (and labels) them: a signed-in technician or data scientist (an operator with --unlabelled).
cli-eval-dataset = Dataset folder (MVTec-style tree).
cli-eval-json = Print the report as one JSON object.
cli-eval-tier = Which detector tier: classical (hand-made features), deep (pretrained network patches), or auto (both evaluated, the kept one chosen by synthetic defects on the training images).
cli-eval-out = Where to save the trained model; its evaluation is written next to it as `<name>_metrics.json` and `<name>_metrics.txt` [default: DATA_DIR/models/<dataset>.json].
cli-eval-previews = Write side-by-side pictures (photo | pixel scores | truth mask) of the test images that have masks into this folder.
cli-eval-threshold-report = Also print the operating points on the test scores: the model's threshold, max F1, the escape-rate target and the false-reject target (confusion, precision, recall, F1).
cli-eval-target-escape = Escape-rate target for --threshold-report (share of defective items passed).
cli-eval-target-false-reject = False-reject target for --threshold-report (share of good items rejected).
cli-eval-require = Fail (non-zero exit status) when a measure misses its bound, e.g. `--require image-auroc=0.995`. Floors: image-auroc, pixel-auroc, pixel-auroc-item, grade-macro-f1, good-vs-rotten-accuracy. Ceilings, at the model's own threshold: escape-rate, false-reject-rate. Repeat for several.
cli-snapshot-frames = Frames to save.
cli-snapshot-skip = Skip this many frames first.
cli-snapshot-out = Folder to write `frame-<seq>.png` into.
cli-snapshot-heat = Draw the heat map too.
cli-import-paths = Image files and folders to import.
cli-import-user = Who imports (a signed-in operator, technician or data scientist; recorded with the samples and in the audit log).
cli-import-json = Print the report as one JSON object.
cli-export-out = Folder to write (created if missing; must be empty unless --overwrite).
cli-export-overwrite = Write into a non-empty folder: replace files of the same name and remove the files of a previous export there that this one does not write again.
cli-export-json = Print the report as one JSON object.
cli-bench-dataset = MVTec-style dataset: its test photos are timed and its train/good trained on.
cli-bench-threads = Threads to run on (1 = the one-core figure).
cli-bench-runs = Timed runs per workload (inputs are cycled, after one untimed warm-up pass).
cli-bench-train-runs = Times the training on the dataset is repeated (the median is reported).
cli-bench-labelled = Also time training from this many labelled samples of the synthetic line (captured into a scratch database first; 0 = skip).
cli-bench-json = Print the report as one JSON object.
cli-bench-line = Instead: run the live synthetic line (30 FPS) this many seconds with `line-sim` as the PLC and measure capture -> acknowledged per output (median, p99).
cli-bench-mqtt = With --line: publish to this MQTT broker too (mqtt://HOST:PORT[/PREFIX]).
cli-bench-bad-line-seconds = --line takes 1 to 3600 seconds, not { $seconds }
cli-bench-line-summary = live synthetic line for { $seconds } s: { $frames } frames ({ $dropped } dropped), { $items } items, { $rejects } rejects
cli-bench-line-ejector = simulated ejector: { $read } items read, { $fired } fired, { $late } late, { $missed } missed
cli-bench-line-output = { $output }: { $sent } sent, { $acked } acknowledged, { $late } late, { $missed } missed; capture -> ack { $capture }; write -> ack { $round_trip }
cli-bench-line-not-exact = the simulated ejector did not fire exactly the rejects (see above)
cli-bench-cameras = Instead: run this many synthetic 1280x720 cameras at 30 FPS at once, each its own station recording every item, and measure drops and capture -> verdict per camera.
cli-bench-seconds = With --cameras: how long the lines run, seconds.
cli-bench-bad-cameras = --cameras takes 1 to 64, not { $cameras }
cli-bench-cameras-summary = { $cameras } cameras for { $seconds } s: { $dropped } frames dropped, worst capture -> verdict p99 { $p99 } ms, CPU { $cpu } % of one core; { $items } items judged, { $rows } rows recorded
cli-bench-cameras-camera =   { $station }: { $frames } frames, { $dropped } dropped, { $items } items; capture -> verdict median { $median } ms, p99 { $p99 } ms
cli-bench-plant = Instead: send this many inspection messages to --kafka, collect them into the empty plant database --postgres and measure the collector's rows per second.
cli-bench-kafka = With --plant: the brokers, HOST:PORT[,HOST:PORT].
cli-bench-postgres = With --plant: a scratch plant database, postgres://USER@HOST:PORT/DB (it must hold no inspections).
cli-bench-plant-summary = plant collector: { $messages } messages produced in { $produce } s; { $read } read, { $stored } rows stored in { $collect } s = { $rate } rows/s, enough for { $stations } stations at 30 items/s
bench-plant-producing = producing { $messages } inspection messages
bench-plant-collecting = collecting them into PostgreSQL
cli-bench-tier = Tier the dataset's photos are judged with: classical or deep (the synthetic frames always use the bundled classical model).
cli-alarms-hours = Simulated hours of production.
cli-alarms-items-per-hour = Items recorded per simulated hour.
cli-alarms-seed = Seed of the synthetic line.
cli-alarms-dim-at = Dim the lamp from this simulated hour on (a lighting drift to catch).
cli-alarms-exposure = Exposure after dimming (1.0 nominal).
cli-alarms-resamples = Reports resampled from the stable hours to measure the false-alarm rates.
cli-alarms-json = Print the report as JSON.
cli-alarms-bad-hours = --hours = { $hours } is out of range: 1 to 744
cli-alarms-bad-items = --items-per-hour = { $items } is out of range: 30 to 100000
cli-alarms-bad-dim-at = --dim-at = { $hour } is out of range: 0 up to --hours ({ $hours })
cli-alarms-bad-exposure = --exposure = { $exposure } is out of range: 0.05 to 4
cli-alarms-progress = { $done } of { $total } items judged
cli-soak-minutes = How long the line runs, in minutes.
cli-soak-fps = Frames per second of the synthetic line.
cli-soak-every = Seconds between two samples.
cli-soak-json = Print the report (with every sample) as JSON.
cli-backup-out = The copy to write (replaced if it exists; never the database or its own files).
cli-restore-file = A backup written by `foodqc backup` or a daily backup (`<data dir>/backups/`).
cli-arg-source = camera:N, folder:PATH or synthetic[:SEED].
cli-arg-width = Frame width for cameras and the synthetic line.
cli-arg-height = Frame height for cameras and the synthetic line.
cli-arg-fps = Frames per second (pacing with --live, camera request).

## Command line: foodqc report

cli-report-bad-by = --by { $by }: use lot, hour, shift or station
cli-report-wrote-csv = { $rows ->
    [one] wrote { $rows } row to { $path } in { $seconds } s
   *[other] wrote { $rows } rows to { $path } in { $seconds } s
}
cli-report-wrote-pdf = wrote { $path } ({ $bytes } bytes) in { $seconds } s
cli-report-generated = generated { $rows } inspections in { $lots } lots in { $seconds } s (bad lot { $bad }, drifting lot { $drifting })
cli-report-no-lot = lot { $code } is not in { $db }
cli-report-need-comment = --comment must say why lot { $code } is held or released
cli-report-lot-now = lot { $code } is now { $status } (by { $actor })
cli-report-title = foodqc report: { $filter }
cli-report-label-items = items
cli-report-items = { $items } inspected, { $rejects } rejected ({ $rate }), { $reviews } review
cli-report-label-pchart = p-chart
cli-report-pchart = { $points ->
    [one] { $points } { $group ->
        [lot] lot
        [hour] hour
        [shift] shift
       *[other] station
    }
   *[other] { $points } { $group ->
        [lot] lots
        [hour] hours
        [shift] shifts
       *[other] stations
    }
}, centre { $centre }
cli-report-label-ooc = OUT OF CONTROL
cli-report-ooc = { $label } { $rate } (UCL { $ucl }), rules { $rules }
cli-report-label-pareto = pareto
cli-report-label-drift = drift
cli-report-drift = { $drifting } of { $hours } hours drift from the training distribution
cli-report-label-held = lots on hold
cli-report-label-times = query times
cli-report-none = none

## PDF report

pdf-summary = Summary
pdf-generated = Generated { $when } ({ $zone }) by { $author } with foodqc
pdf-author-unknown = an unnamed user (no --user, no USER in the environment)
pdf-filter = Filter: { $filter }
pdf-sent-to-review = Sent to review
pdf-period = Period
pdf-no-inspections = no inspections
pdf-out-of-control = Out of control ({ $group ->
    [lot] lots
    [hour] hours
    [shift] shifts
   *[other] stations
})
pdf-score-drift = Score drift
pdf-no-drift = no hour drifts from the training distribution
pdf-drift-warning = { $hours ->
    [one] WARNING: { $hours } hour drifts from the training distribution
   *[other] WARNING: { $hours } hours drift from the training distribution
}
pdf-by-group = By { $group }
pdf-more-groups = ... { $count } more in the CSV export
pdf-pchart-title = p-chart: reject proportion by { $group } (centre { $centre }, 3-sigma limits per subgroup size)
pdf-no-inspections-match = no inspections match the filter
pdf-pchart-legend = blue: reject proportion; grey: centre line; red dashed: control limits; big red squares: out of control (Western Electric rules 1-4)
pdf-pareto-title = Pareto of defect classes (rejected items) with cumulative share
pdf-no-rejects-match = no rejects match the filter
pdf-pareto-legend = amber: cumulative share (top = 100 %)
pdf-drift-title = Drift: mean anomaly score of passed items per hour (grey: 95th percentile of good items at training)
pdf-no-passed-match = no passed items match the filter
pdf-sample-images = Sample defect images
pdf-no-crops = no saved crops of rejected items in this report
pdf-col-product = product
pdf-col-disposition = disposition
pdf-col-by = by
pdf-col-when = when
pdf-col-comment = comment
pdf-more-lots = ... { $count } more lots
pdf-approval = Disposition decided by QC. Reviewed and approved:
pdf-name = Name
pdf-date = Date
pdf-signature = Signature
thr-source-production = last { $count } production items ({ $labelled } labelled)

## Command line: output of the other commands (labels are padded to 16 characters by the code)
cli-label-model = model
cli-label-lot = lot
cli-label-frames = frames
cli-label-items = items
cli-label-unscored = unscored
cli-label-recorded = recorded
cli-label-journal = journal
cli-label-crops-missing = crops missing
cli-label-stopped = stopped
cli-label-speed = speed
cli-label-database = database
cli-database = database { $path }
cli-progress-files = files
cli-inspect-title = foodqc inspect: { $source }
cli-inspect-frames-line = { $inspected } inspected, { $dropped } dropped, { $skipped } files skipped
cli-inspect-items-line = { $items } judged, { $rejects } rejected ({ $rate })
cli-inspect-unscored = { $n } items could not be scored (rejected, never passed): check the model
cli-inspect-recorded = { $recorded ->
    [one] { $recorded } row
   *[other] { $recorded } rows
} in the database, { $journaled } to the pending journal
cli-inspect-journal = { $n ->
    [one] { $n } row waits
   *[other] { $n } rows wait
} in { $path } (replayed when the database takes writes again)
cli-inspect-crops-missing = { $n ->
    [one] { $n } crop could not be saved (its row says why)
   *[other] { $n } crops could not be saved (their rows say why)
}
cli-inspect-by-signal = by a signal (SIGTERM/SIGINT)
cli-inspect-nothing = nothing inspected in { $seconds } s
cli-inspect-speed = { $fps } frames/s over { $seconds } s; inspection { $median } ms median, { $p95 } ms p95
cli-inspect-loop-needs-frames = --loop replays forever: give --frames N to stop
cli-inspect-no-frame = no frame could be inspected from { $source }
cli-backup-done = backed up { $db } ({ $rows } inspections) to { $out }
cli-restore-done = restored { $db } from { $file } ({ $rows } inspections)
cli-restore-kept = the database it replaced is kept at { $path }
cli-demo-samples-done = { $n } samples captured into { $dir } ({ $how })
cli-demo-samples-unlabelled-note = unlabelled
cli-demo-samples-labelled-note = labelled from the synthetic ground truth
cli-import-progress = importing
cli-import-all-failed = every file failed to import ({ $n } files)
cli-import-none-found = no PNG or JPEG image found in the given paths
cli-export-progress = exporting
cli-export-nothing = database { $db } has no labelled samples; nothing to export
cli-export-none-exported = no labelled sample could be exported
cli-label-file = file
cli-progress-frames = frames
cli-train-proposed = proposed { $version } for the line: a QC manager approves it (foodqc model approve { $version } --user NAME --reason TEXT)
cli-train-not-proposed = not proposed: propose { $version } with foodqc model propose, or in the Train tab
cli-train-trained = model { $version } trained in { $seconds } s from { $db }
cli-train-skipped = skipped { $path }: { $why }
cli-train-measuring = measuring good items
cli-train-good-items = { $n } good items from { $source }
cli-train-choosing-tier = choosing the detector tier ({ $tier })
cli-train-tier-line = tier: { $tier }
cli-train-written = model { $version } written to { $path } (card: { $card })
cli-train-truth-check = ground truth check on { $source }: { $items } items, { $defective } defective; recall { $recall }, false rejects { $false_rejects }, AUROC { $auroc }
cli-label-memory = memory
cli-label-recorder-queue = recorder queue
cli-soak-title = foodqc soak: { $minutes } min at { $fps } fps
cli-soak-frames = { $captured } captured, { $inspected } inspected, { $dropped } dropped
cli-soak-items = { $items } judged, { $rows } rows in the database, { $lost } lost
cli-soak-memory = { $warm } MiB after warm-up, { $end } MiB at the end, slope { $slope } MiB/h
cli-soak-queue = at most { $n }
cli-soak-bad-minutes = --minutes = { $minutes } is out of range: more than 0, at most a week
cli-soak-bad-every = --every = { $every } is out of range: at least 0.1 seconds
cli-soak-rows-lost = { $n } judged items are not in the database
cli-progress-images = images
cli-eval-saved = model saved to { $model } (metrics: { $metrics }, test scores: { $scores })
cli-eval-bad-share = { $name } must be a share between 0 and 1, got { $value }
cli-eval-gates-missed = { $missed } of { $total } quality gates missed on { $dataset }: { $list }
cli-eval-gates-met = all { $n } quality gates met
cli-snapshot-line = { $path } { $items } items [{ $scores }] { $total } ms (segment { $segment } ms)

## Train tab: the live model's card
card-created = created
card-trained-on = trained on
card-good-items = good items
card-items-patches = { $items } items, { $patches } patches
card-training-time = training time
card-seconds = { $seconds } s
card-resolution = resolution
card-full-resolution = full (frames inspected as captured)
card-binned = frames binned { $factor }×{ $factor } before inspection
card-tier = detector
card-tier-classical = classical (hand-made features)
card-tier-deep = deep (pretrained network)
card-reject-threshold = reject threshold
card-pixel-threshold = heat-map cell threshold
card-threshold-note = Score = the larger of the item part and the worst patch part; 1.0 = the 95th percentile of held-out good items.
card-metrics = Metrics
card-features = Features
card-feature-set = feature set { $name }
card-item-features = item features:
card-patch-features = patch features:
card-notes = Notes (as written at training)
metric-name-good-samples = good samples
metric-name-defect-samples = defective samples
metric-name-recall = recall
metric-name-threshold = reject threshold
metric-name-cv-auroc = AUROC (cross-validated)
metric-name-cv-false-reject-rate = false-reject rate (cross-validated)
metric-name-cv-good-passed = good passed (cross-validated)
metric-name-cv-good-rejected = good rejected (cross-validated)
metric-name-defects-passed = defects passed
metric-name-defects-rejected = defects rejected
metric-name-heldout-false-reject-rate = false-reject rate (held-out good)
metric-name-training-seconds = training time (s)
metric-name-eval-items = items evaluated
metric-name-eval-defective = defective items evaluated
metric-name-eval-recall = recall (evaluation)
metric-name-eval-precision = precision (evaluation)
metric-name-eval-false-reject-rate = false-reject rate (evaluation)
metric-name-eval-auroc = AUROC (evaluation)
metric-name-classifier-classes = classifier classes
metric-name-classifier-cv-score = classifier score (cross-validated)

## Users, roles and signing in (services/auth.rs, cli/user.rs)
auth-permission-denied = { $user } ({ $role }) may not { $permission }; roles that may: { $roles }
auth-bad-credentials = wrong user name or password for { $user }
auth-locked = user { $user } is locked after too many wrong passwords; try again in { $minutes } min or ask an admin to set a new password
auth-disabled = user { $user } is disabled; ask an admin
auth-name-length = user name { $name } is not valid: it must have 1 to { $max } characters
auth-name-chars = user name { $name } is not valid: use lowercase letters a-z, digits, '.', '_' and '-', starting with a letter or digit (e.g. qc.anna, line-1)
auth-display-name = display name { $value } is not valid: it must have 1 to 128 characters
auth-password-short = password for { $user } is too short: at least { $min } characters
auth-password-long = password for { $user } is too long: at most { $max } characters
auth-password-name = password for { $user } must not contain the user name
auth-password-one-class = password for { $user } must mix at least two kinds of characters (lowercase, uppercase, digits, others)
auth-first-user-admin = the first user of a station must be an admin (not a service account): { $user } cannot be created yet; use --role admin
auth-sign-in-needed = users exist already: sign in as an admin with --user NAME (the password from FOODQC_ACTOR_PASSWORD or a prompt)
auth-service-admin = service account { $user } cannot be an admin: a headless station manages no users
auth-disable-self = { $user } cannot disable their own account
auth-no-such-user = no user named { $user }
auth-secret-file = cannot read the password file { $path }: { $error }
auth-hash = password hash of { $user }: { $error }
cli-user-about = Manage the station's users: add, list, disable, set a password. Passwords come from a prompt, FOODQC_PASSWORD or --password-file, never from the command line.
cli-user-user = Admin who signs in to make the change (password from FOODQC_ACTOR_PASSWORD or a prompt); not needed for the first user.
cli-user-add-about = Add a user. The first user of a station must be an admin and needs no sign-in.
cli-user-add-name = Login name: lowercase letters, digits, '.', '_', '-' (e.g. qc.anna).
cli-user-add-role = Role: operator, technician, data_scientist, qc_manager or admin.
cli-user-add-display-name = Name as people read it [default: the login name].
cli-user-add-service = A service account for a headless station (its password from a file or FOODQC_PASSWORD).
cli-user-add-password-file = Read the new password from the first line of this file (else FOODQC_PASSWORD, else a prompt).
cli-user-list-about = List the users (never their password hashes).
cli-user-list-json = Print the list as JSON.
cli-user-disable-about = Disable a user: they can no longer sign in; their records keep their name.
cli-user-disable-name = The user to disable.
cli-user-passwd-about = Set a new password for a user (clears a lockout).
cli-user-passwd-name = The user whose password is set.
cli-user-passwd-password-file = Read the new password from the first line of this file (else FOODQC_PASSWORD, else a prompt).
cli-user-role-unknown = unknown role { $value }: use one of { $roles }
cli-user-password-prompt = New password for { $user }:
cli-user-password-again = Repeat the new password:
cli-user-password-mismatch = the two passwords for { $user } differ; nothing was changed
cli-user-no-password = no password for { $user }: set FOODQC_PASSWORD, pass --password-file FILE, or run on a terminal to be asked
cli-user-actor-prompt = Password of { $user }:
cli-user-no-actor-password = no password for { $user }: set FOODQC_ACTOR_PASSWORD or FOODQC_ACTOR_PASSWORD_FILE, or run on a terminal to be asked
cli-user-needed = this command changes records: say who does it with --user NAME (roles that may: { $roles }); the password comes from FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE or a prompt
cli-user-added = added user { $user } ({ $role })
cli-user-disabled = disabled user { $user }
cli-user-password-changed = password of { $user } changed
cli-user-none = no users yet: create the first admin with foodqc user add NAME --role admin
cli-user-col-name = name
cli-user-col-display-name = display name
cli-user-col-role = role
cli-user-col-status = status
cli-user-status-active = active
cli-user-status-service = active (service)
cli-user-status-disabled = disabled
cli-user-status-locked = locked
## Command line: foodqc audit (the tamper-evident audit trail)

cli-audit-about = The tamper-evident audit trail: `verify` walks the hash chains of the audit log and of the inspections, `list` shows the audit log, `export` writes an extract a QC manager signs as reviewed.
cli-audit-verify-about = Walk the hash chains of the audit log and of the inspections and compare their heads with the copies kept outside the database; exits non-zero naming the first broken entry or batch.
cli-audit-verify-json = Print the result as JSON.
cli-audit-list-about = List audit entries, newest first.
cli-audit-list-actor = Only entries by this actor.
cli-audit-list-action = Only this action, or the actions below it (`lot` lists `lot.status`).
cli-audit-list-from = From this time on, in plant time (America/Lima, or $FOODQC_TZ): 2026-11-20, "2026-11-20 08:00" or RFC 3339 with an offset.
cli-audit-list-to = Up to this time, in plant time (exclusive).
cli-audit-list-limit = At most this many entries (the newest).
cli-audit-list-json = Print the entries as JSON.
audit-verify-no-key = no audit key at { $path }: the hash chains cannot be checked without it (it is kept outside the database; FOODQC_AUDIT_KEY_FILE names another file)
audit-verify-ok = audit trail intact: { $entries } audit entries, { $batches } inspection batches ({ $rows } inspections)
audit-verify-anchor = head matches the copy in { $file }
audit-verify-no-anchor = no copy of the head was found outside the database: a deleted tail could not be detected
audit-verify-broken = audit trail broken ({ $count } problems); first: { $first }
audit-list-empty = no audit entries match
audit-problem-hash = audit entry { $id } was changed: its content no longer matches its hash
audit-problem-link = audit entry { $id } does not link to the entry before it: an entry before it was deleted, inserted or replaced
audit-problem-missing = audit entries { $from } to { $to } are missing (deleted)
audit-problem-unhashed = audit entry { $id } has no hash: it was written outside foodqc
audit-problem-older = the audit entries written before the chain started (at entry { $id }) were changed
audit-problem-batch-hash = inspection batch { $id } (inspections { $first } to { $last }) no longer matches its hash: a verdict or another value was changed, or rows were deleted or inserted ({ $now } rows now, { $sealed } when sealed)
audit-problem-batch-link = inspection batch { $id } does not link to the batch before it: batches were deleted or replaced
audit-problem-unsealed = { $count } inspections from id { $first } on are in no batch: they were written outside foodqc
audit-problem-tail-audit = the audit log was cut: it ends at entry { $last }, but { $anchor } records entry { $anchored } (the tail was deleted)
audit-problem-tail-batches = the inspections were cut: they end at batch { $last }, but { $anchor } records batch { $anchored } (the tail was deleted)
audit-problem-anchor-audit = audit entry { $id } differs from the one recorded in { $anchor }: the tail was deleted and written again
audit-problem-anchor-batches = inspection batch { $id } differs from the one recorded in { $anchor }: the tail was deleted and written again

## Electronic signatures and promotion
sign-no-reason = a signature for { $action } needs a reason
sign-reason-long = the reason of a signature for { $action } is too long: at most { $max } characters
promo-already-live = model { $version } is live already
promo-not-proposed = model { $version } has not been proposed: a data scientist proposes it (signed) before a QC manager approves it
promo-same-person = { $user } proposed model { $version } and cannot also approve it: a second person approves
promo-changed = the files of model { $version } changed after it was proposed: propose it again
promo-not-previous = model { $version } is not the version live before the current one: a roll back returns only to that one
promo-read-file = cannot read { $path }: { $error }
lot-unknown = lot { $code } is not in the database
plant-model-not-approved = model version { $version } was not approved on this PC with these files: propose and approve it here first (foodqc model propose / approve)
plant-model-no-recipe = name the recipe whose stations take the model (--recipe)
plant-model-bad-message = not a model part foodqc can read: { $why }
plant-model-part-unreadable = model part { $part } is not base64: { $error }
plant-model-length = the model's parts hold { $got } bytes, the release says { $expected }
plant-model-hash = model version { $version } arrived with files other than the ones signed (content hash differs); refused
plant-seal-missing = it carries no signature of a plant key (headers foodqc-key and foodqc-signature)
plant-seal-bad = its signature does not match the message (key { $fingerprint }): altered on the way or forged
plant-seal-untrusted = it is signed by key { $fingerprint }, which this station does not trust (foodqc keys trust NAME KEY)
plant-model-version-taken = model version { $version } exists at this station with other files ({ $path }); refused
plant-model-write-file = cannot write { $path }: { $error }
lot-not-a-decision = lot { $code }: only hold and release are decisions
shift-bad-date = the date { $date } is not a day (write it as 2026-11-20)
shift-no-shift = name the shift to close (for example A)
shift-empty = shift { $shift } has no inspections: there is nothing to review
shift-already-closed = shift report { $shift } was already closed by { $who } on { $when } and its records have not changed since
pdf-review = Review of { $shift }
pdf-review-none = not reviewed yet
pdf-review-signed = { $meaning } by { $name } ({ $user }) on { $when } UTC. Reason: { $reason }. Content { $hash }
pdf-review-changed = Records changed after this signature: review again.
cli-report-closed = shift report { $shift } closed: { $meaning } by { $who } on { $when }
cli-report-close-needs-shift = --close-shift needs --shift (the shift to close) and --comment (the review's reason)
cli-report-label-review = Review
desk-shift-closed = Shift report { $shift } closed by { $who }
reports-shift-review = Shift review
reports-shift-review-how = Filter one shift of one day to close it: From = the day, To = the next day, Shift.
reports-shift-none = { $shift }: not reviewed yet
reports-shift-signed = { $shift }: { $meaning } by { $who } on { $when }
reports-shift-changed = { $shift }: records changed after the review; review again
reports-close-shift = Close shift…
reports-close-shift-disabled = Write the review's comment first
reports-sign-shift = shift report { $shift }
desk-sign-in-first = sign in first (roles that may: { $roles })
desk-signed-in = signed in: { $user } ({ $role })
desk-signed-out = { $user } signed out
desk-idle-locked = { $user } signed out after the idle time; sign in again
desk-proposed = model { $version } proposed by { $user }; a QC manager approves it
desk-live = { $version } is live
desk-model-published = { $version } signed by { $actor } for the stations of recipe { $recipe }; { $parts } parts go through the plant's Kafka

## Session: sign-in, idle lock, signatures
session-sign-in-to = Sign in first. Roles that may: { $roles }
session-role-may-not = Your role ({ $role }) may not do this. Roles that may: { $roles }
session-user = { $user } ({ $role })
session-sign-out = Sign out
session-read-only = Read-only
session-sign-in = Sign in
session-sign-in-open = Sign in…
session-sign-in-title = Sign in
session-first-admin-title = Create the first admin
session-first-admin-help = This station has no users yet. Create its administrator; the admin then adds operators, technicians, data scientists and QC managers.
session-name = User name
session-display-name = Full name
session-password = Password
session-password-again = Password again
session-create-admin = Create admin
session-passwords-differ = The two passwords differ.
session-sign-title = Electronic signature
session-sign-record = Record
session-sign-action = Action
session-sign-meaning = Meaning
session-sign-signer = Signer
session-sign-reason = Reason
session-sign-note = Signing with your password is the legal equivalent of your handwritten signature. Name, time, meaning and reason are kept with the record.
session-sign-button = Sign
session-sign-needs = Give a reason and your password.
signed-propose-model = propose the model for the line
signed-approve-model = approve the model: it goes live
signed-override = override failed acceptance criteria
signed-rollback = return to the previous model
signed-publish-model = send a model version to the recipe's stations
signed-apply-thresholds = apply the thresholds to the live model
signed-hold-lot = put the lot on hold
signed-release-lot = release the lot
signed-close-report = close the shift report
meaning-performed = performed
meaning-reviewed = reviewed
meaning-approved = approved
reports-sign-lot = lot { $code }
thr-sign-record = thresholds of model { $version }
train-sign-record = model { $version }
train-propose = Propose…
train-propose-tip = Put this version forward for the line (your signature); a QC manager approves it
train-approve = Approve…
train-approve-own = You proposed this version: a second person approves it
train-proposed-by = Proposed by { $user } on { $when }: { $reason }
cli-model-about = Model versions on the line: a data scientist proposes, a QC manager approves (two signatures), roll back, list; `compare` a candidate with the live model on the labelled samples neither trained on (exits 3 when the acceptance criteria block it), `criteria` shows or sets the acceptance criteria (QC manager).
cli-model-propose-about = Propose a trained version for the line (a data scientist signs: "performed").
cli-model-approve-about = Approve a proposed version: it goes live (a QC manager other than the proposer signs: "approved").
cli-model-rollback-about = Return the line to the version live before the current one (a QC manager signs).
cli-model-list-about = List the model versions: live, proposed (by whom) and their signatures.
cli-model-proposed = { $version } proposed by { $user }: a QC manager approves it
cli-model-approved = { $version } approved by { $user }: it is the live model (a running station takes it at its next start)
cli-model-rolled-back = rolled back: { $version } is the live model again
cli-model-no-previous = there is no earlier live version to roll back to
cli-model-unknown = no model version { $version } in { $db }
cli-model-none = no model versions registered yet
cli-model-state-live = LIVE
cli-model-state-proposed = proposed by { $user }
## foodqc encrypt
cli-encrypt-about = Encrypt the database with the key from FOODQC_DB_KEY or FOODQC_DB_KEY_FILE (on a terminal without them, a passphrase typed twice): a checked encrypted copy replaces the plain file, and the plain daily backups are encrypted too. Stop the station and the workstation first: the database must not be open anywhere else.
cli-encrypt-json = Print what was done as JSON.
cli-encrypt-done = encrypted { $db }: { $tables } tables, { $rows } rows, checked against the plain copy
cli-encrypt-backup-done = encrypted the backup { $file }
cli-encrypt-backup-plain = the backup { $file } is still plaintext: { $error }
cli-encrypt-keep-key = keep the key safe: without it the database cannot be read; set FOODQC_DB_KEY or FOODQC_DB_KEY_FILE for the headless station, the workstation asks for it
cli-encrypt-no-key = no database key: set FOODQC_DB_KEY or FOODQC_DB_KEY_FILE (a file readable by its owner only), or run on a terminal to be asked
cli-encrypt-prompt = New database passphrase:
cli-encrypt-prompt-again = Repeat the passphrase:
cli-encrypt-mismatch = the two passphrases differ; nothing was changed

## The passphrase prompt of an encrypted database
unlock-title = Database locked
unlock-explain = The database { $path } is encrypted. Type its passphrase to open the workstation.
unlock-passphrase = Passphrase
unlock-open = Open
unlock-checking = Checking the passphrase…
unlock-wrong-key = This passphrase does not open the database. Check it and try again.
unlock-empty = Type the passphrase first.
unlock-failed = The database could not be opened: { $error }
unlock-hint = A headless station reads the key from FOODQC_DB_KEY or from the file named by FOODQC_DB_KEY_FILE.
acceptance-rate = { $value } ({ $low }–{ $high })
acceptance-measure-recall = recall
acceptance-measure-false-reject-rate = false-reject rate
acceptance-measure-defect-samples = independent defective samples
acceptance-measure-good-samples = independent good samples
acceptance-shortfall-recall-live = recall { $candidate } is below the live model's { $live } on the same samples
acceptance-shortfall-false-rejects-live = false-reject rate { $candidate } is above the live model's { $live } on the same samples
acceptance-shortfall-recall-min = recall { $candidate } is below the minimum of { $min }
acceptance-shortfall-false-rejects-max = false-reject rate { $candidate } is above the maximum of { $max }
acceptance-shortfall-defect-samples = { $count ->
    [one] only { $count } independent defective sample
   *[other] only { $count } independent defective samples
}; the criteria ask for at least { $min } (label more defects: the training keeps one in five of them aside)
acceptance-shortfall-good-samples = { $count ->
    [one] only { $count } independent good sample
   *[other] only { $count } independent good samples
}; the criteria ask for at least { $min } (label more good product: the training keeps one in five aside)
acceptance-error-no-reason = the acceptance criteria are changed only with a reason
acceptance-error-invalid = { $field } must be a number from 0 to 1, not { $value }
acceptance-error-model = model { $version } cannot be loaded for the comparison: { $error }
acceptance-col-measure = measure
acceptance-col-live = live
acceptance-col-candidate = candidate
acceptance-col-criterion = criterion
cli-model-compare-about = Compare a trained version with the live model on the labelled samples neither trained on, and say whether it meets the acceptance criteria; exits 3 when it is blocked.
cli-model-compare-version = The candidate: its version (as `foodqc train` printed it) or its row id.
cli-model-compare-json = Print the comparison and the assessment as JSON.
cli-model-criteria-about = Show the acceptance criteria and their history, or set them (QC manager, with a reason).
cli-model-criteria-min-recall = Lowest recall accepted (0 to 1).
cli-model-criteria-max-false-reject-rate = Highest false-reject rate accepted (0 to 1).
cli-model-criteria-min-defect-samples = Fewest independent defective samples a comparison must rest on.
cli-model-criteria-min-good-samples = Fewest independent good samples a comparison must rest on.
cli-model-criteria-reason = Why the criteria change (required to change them).
cli-model-criteria-user = QC manager who signs in to change them (password from FOODQC_ACTOR_PASSWORD or a prompt).
cli-model-criteria-json = Print the criteria and their history as JSON.
cli-model-no-version = no model version { $version } is registered (`foodqc model compare` takes the version `foodqc train` printed, or its row id)
cli-model-compare-heading = Candidate { $candidate } against the live model { $live }, on { $samples } labelled samples neither trained on ({ $trained } left out because one of them trained on them, { $unjudged } without an item):
cli-model-accepted = Accepted: the candidate meets the acceptance criteria and does no worse than the live model.
cli-model-blocked = Blocked: promoting this candidate needs the QC manager's signed override with a reason.
cli-model-criteria-set = Acceptance criteria set by { $user }.
cli-model-criteria-nothing = --reason without a new value: give --min-recall, --max-false-reject-rate, --min-defect-samples or --min-good-samples
cli-model-criteria-defaults = These are the defaults: nobody has set acceptance criteria at this station.
cli-model-criteria-history = History (newest first):
cli-model-criteria-sign-in = acceptance criteria are set by a QC manager: sign in with --user NAME (the password from FOODQC_ACTOR_PASSWORD or a prompt); `foodqc user add` creates one
desk-no-version = model version #{ $id } is no longer registered
train-acceptance = Acceptance of { $version }
train-acceptance-refresh = Compare again
train-acceptance-refresh-tip = Score the candidate and the live model again on the labelled samples neither trained on
train-acceptance-running = Comparing with the live model on the labelled samples neither trained on…
train-acceptance-samples = Against the live model, on { $samples } labelled samples neither trained on ({ $trained } left out because one of them trained on them, { $unjudged } without an item). Rates with their 95 % interval below them.
train-acceptance-accepted = Meets the acceptance criteria and does no worse than the live model.
train-acceptance-blocked = Blocked: going live needs the QC manager's signed override with a reason.
train-acceptance-interval = 95 %: { $low }–{ $high }
cli-train-held-out = held out for the acceptance test, never trained on: { $count ->
    [one] { $count } sample
   *[other] { $count } samples
} ({ $labels })
cli-train-held-out-short = too few good samples for the full acceptance hold-out: { $count } good samples it would keep aside were trained on, so that training could fit; the acceptance check will find fewer independent good samples (label more good product)
train-held-out = { $count ->
    [one] { $count } labelled sample was
   *[other] { $count } labelled samples were
} held out for the acceptance test (never trained on).
promo-blocked = model { $version } fails its acceptance criteria: { $shortfalls }. It goes live only with an override the QC manager signs with a reason
train-override-warning = This version fails its acceptance criteria: { $shortfalls }. Signing approves it anyway: your reason is kept as an override.

cli-model-propose-version = The model version (as `foodqc model list` shows it).
cli-model-propose-reason = Why (kept with the signature).
cli-model-propose-user = The data scientist who signs (password from FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE or a prompt).
cli-model-approve-version = The model version (as `foodqc model list` shows it).
cli-model-approve-reason = Why (kept with the signature).
cli-model-approve-user = The QC manager who signs (password from FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE or a prompt).
cli-model-approve-override-reason = Approve although the version fails its acceptance criteria, for this reason (a second signature; `foodqc model compare` shows the shortfalls).
cli-model-rollback-reason = Why (kept with the signature).
cli-model-rollback-user = The QC manager who signs.
cli-model-publish-about = Send a version approved here to the plant's stations of a recipe through the plant's Kafka (a QC manager signs); each station that has the recipe saves its next version with this model and, when running it, switches between two frames.
cli-model-publish-version = The model version (as `foodqc model list` shows it).
cli-model-publish-recipe = The recipe whose stations take it.
cli-model-publish-reason = Why (kept with the signature and sent with the model).
cli-model-publish-user = The QC manager who signs.
cli-model-publish-kafka = The plant's brokers, HOST:PORT[,HOST:PORT].
cli-model-published = { $version } sent to the stations of recipe { $recipe } (by { $actor }; release { $command } in { $parts } parts; { $pending } messages still waiting)
cli-model-publish-pending = { $pending } messages did not reach the brokers { $brokers } yet: they stay in this PC's outbox and go at the next publishing start from this data folder
cli-model-list-json = Print the versions and their signatures as JSON.

## Audit view
tab-audit = Audit
keys-audit = Audit trail (QC manager, admin)
signed-review-audit = review the audit trail extract
audit-heading = Audit trail
audit-user = User
audit-user-hint = e.g. qc.anna
audit-action = Action
audit-action-hint = lot, model, signature…
audit-from = From
audit-to = To
audit-time-hint = 2026-11-20 08:00
audit-apply = Apply
audit-clear = Clear
audit-verify = Verify chain
audit-verify-tip = Walk the hash chains of the audit log and the inspections and compare their heads with the copies kept outside the database
audit-export-pdf = Export signed PDF…
audit-export-tip = Every entry the filter shown selects (not only the newest listed), with the verification of the chain, signed by you as reviewed
audit-count = { $count ->
    [one] { $count } entry, newest first
   *[other] { $count } entries, newest first
} (at most { $limit } listed)
audit-sign-record = audit trail extract ({ $filter }), file { $file }
audit-sign-broken = The hash chain is broken: { $result }. The extract says so; your signature records that you reviewed it.
audit-filter-actor = user { $actor }
audit-filter-action = action { $action }
audit-filter-all = all entries
audit-old-new = before: { $old } · after: { $new }
audit-col-id = #
audit-col-time = Time ({ $zone })
audit-col-actor = User
audit-col-action = Action
audit-col-record = Record
audit-col-details = Details
audit-col-reason = Reason
audit-pdf-title = Audit trail extract
audit-pdf-station = Station: { $station }
audit-pdf-filter = Filter: { $filter }
audit-pdf-generated = Generated { $utc } UTC ({ $plant } { $zone })
audit-pdf-chain = Hash chain: { $result }
audit-pdf-entries = { $count ->
    [one] { $count } entry, oldest first
   *[other] { $count } entries, oldest first
}
audit-pdf-signature = Electronic signature
audit-pdf-sig-signer = Signed by: { $name } (user { $user }, { $role })
audit-pdf-sig-time = Time: { $utc } UTC ({ $plant } { $zone })
audit-pdf-sig-meaning = Meaning: { $meaning } ({ $action })
audit-pdf-sig-reason = Reason: { $reason }
audit-pdf-sig-hash = Signed content (blake3): { $hash }
audit-pdf-sig-ids = Signature { $id }, audit entry { $entry }, record { $record }
audit-pdf-sig-note = The signature is bound to the content hash of this extract (station, filter, time, verification and every entry with its chain hash); it is kept in the station's signatures and on its audit trail. The signer re-entered the password to sign.
audit-pdf-footer = foodqc audit extract { $record } · content { $hash }… · page { $page } of { $pages }
audit-export-empty = no audit entries match ({ $filter }): nothing to review
audit-export-no-target = say where the extract goes: --pdf FILE and/or --csv FILE
desk-audit-verifying = Verifying the hash chains…
desk-audit-choose-file = Signed audit extract: choose a file
desk-audit-exporting = Writing the signed audit extract…
desk-audit-exported = Wrote { $entries } audit entries to { $path }, signed as reviewed by { $signer }
cli-audit-export-about = Export the audit entries a filter selects (all of them, oldest first) with the verification of the hash chains, as a PDF and/or CSV that a QC manager signs as reviewed (password again, reason).
cli-audit-export-pdf = Write the signed extract as PDF here.
cli-audit-export-csv = Write the extract's entries as CSV here.
cli-audit-export-actor = Only entries by this actor.
cli-audit-export-action = Only this action, or the actions below it (`lot` selects `lot.status`).
cli-audit-export-from = From this time on, in plant time (America/Lima, or $FOODQC_TZ): 2026-11-20, "2026-11-20 08:00" or RFC 3339 with an offset.
cli-audit-export-to = Up to this time, in plant time (exclusive).
cli-audit-export-user = The QC manager who reviews and signs (password from FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE or a prompt).
cli-audit-export-reason = Why (kept with the signature).
cli-audit-bad-time = { $option }: { $error }
cli-audit-export-need-reason = a signed audit extract needs a reason: --reason TEXT
cli-audit-export-no-dir = cannot write { $path }: the folder { $dir } does not exist
cli-audit-export-wrote-pdf = wrote { $path } ({ $kb } kB)
cli-audit-export-wrote-csv = wrote { $path } ({ $rows } rows)
cli-audit-export-signed = { $entries } audit entries signed as { $meaning } by { $signer }: signature { $id }, content { $hash }

## Line I/O: decisions to the PLC (Modbus TCP) and foodqc line-sim
cli-inspect-plc = Send every decision to a PLC: modbus-tcp://HOST:PORT[?unit=N] (repeatable). The register map is in the README; `foodqc line-sim` plays the PLC.
cli-label-line-output = line output
cli-inspect-line-output = { $output }: { $sent } sent, { $acked } acknowledged, { $late } late, { $missed } missed; capture to acknowledgement median { $median } ms, p99 { $p99 } ms
cli-line-sim-about = Play the PLC for a station when there is none: a Modbus TCP server with the station's register map that acknowledges each decision and fires a simulated ejector; prints fired, late and missed rejects.
cli-line-sim-listen = Address to listen on (port 502 needs root; the station's --plc names the same).
cli-line-sim-belt-mm-s = Belt speed in mm/s.
cli-line-sim-ejector-mm = Distance from the camera's view to the ejector, mm.
cli-line-sim-valve-ms = Time the valve needs between the command and the blast, ms.
cli-line-sim-fire-review = Fire on review verdicts too (reject on doubt).
cli-line-sim-seconds = Stop after this many seconds (default: on Ctrl-C / SIGTERM).
cli-line-sim-json = Print the final counts as JSON.
cli-line-sim-bad-number = { $option } must be a positive number, not { $value }
cli-line-sim-cannot-listen = cannot listen on { $addr }: { $error }
cli-line-sim-listening = line simulator (Modbus TCP PLC) listening on { $addr }; point the station at it with --plc modbus-tcp://{ $addr }
cli-line-sim-title = foodqc line-sim: what the ejector did
cli-line-sim-label-fired = fired
cli-line-sim-label-late = late
cli-line-sim-label-missed = missed
cli-line-sim-status = { $items } items, { $fired } fired, { $late } late, { $missed } missed; station { $state }, heartbeat { $heartbeat }
live-camera-tile = { $camera }: { $items } items, { $rejects } rejects, { $dropped } dropped
live-camera-tile-tip = Click to show this camera alone and set its lot and recipe on the right; click again for the grid.
live-camera-selected = Camera { $camera }
live-camera-selected-tip = Lot, recipe and capture go to this camera. Click another camera's tile to choose it; the line outputs belong to the first camera.
live-recipe = Recipe
live-recipe-none = none
live-recipe-none-saved = No recipe saved yet: open Recipes… to make one from the running setup.
live-recipe-edit = Recipes…
live-recipe-edit-tip = Make, change, export or read recipes (saving is for QC managers).
recipe-editor-title = Recipes
recipe-editor-saved = Saved recipes
recipe-editor-none-saved = None yet.
recipe-editor-entry-plc = { $recipe } (PLC { $index })
recipe-editor-from-running = New from running setup
recipe-editor-from-running-tip = A new recipe with the model version judging now and its thresholds; give it a name.
recipe-editor-save = Save as next version
recipe-editor-save-tip = Save this recipe as the next version of its name (audited). Lines running it take the new version at their next switch.
recipe-editor-export = Export…
recipe-editor-export-tip = Write the saved recipe as a JSON file for another station (Read file… there, or foodqc recipe import).
recipe-editor-read = Read file…
recipe-editor-read-tip = Read a recipe file into the editor; check it, then save it here.
recipe-field-name = Name
recipe-field-name-hint = e.g. galleta-vainilla
recipe-field-plc-index = PLC index
recipe-field-plc-index-tip = The number the PLC writes into its recipe register to select this recipe; 0 for none.
recipe-field-model = Model version
recipe-field-model-running = (the running model)
recipe-field-thresholds = Thresholds
recipe-field-own = own
recipe-field-thresholds-tip = Without its own thresholds the recipe keeps the model's setting.
recipe-field-reject = reject
recipe-field-review = review from
recipe-field-min-item = Smallest item
recipe-field-min-item-tip = Share of the frame's area an item needs: smaller blobs are crumbs or noise. Without it the model's setting.
recipe-field-contrast = Contrast to belt
recipe-field-contrast-tip = Least colour difference to the belt (R+G+B, 1 to 255) a pixel needs to count as product: raise it when shadows on a pale belt become items. The belt colour itself is learnt from every frame.
recipe-field-expected-items = Items per frame
recipe-field-expected-items-tip = How many items a frame is expected to hold, for the line's records; 0 for not set.
recipe-field-notes = Notes
recipe-field-notes-hint = product, what changed
recipe-editor-give-name = Give the recipe a name to save it.
recipe-invalid = recipe "{ $recipe }": { $field } { $problem }
recipe-not-a-recipe = { $path }: not a recipe: { $error }
recipe-problem-name-length = must be 1 to 64 printable characters
recipe-problem-name-spaces = must not start or end with spaces
recipe-problem-plc-index = must be 1 to 65535 (0 means none)
recipe-problem-blank = is blank
recipe-problem-min-item-area = is { $value }; must be above 0 and at most 0.5 of the frame
recipe-problem-belt-contrast = must be 1 to 255
thresholds-not-finite = { $threshold } threshold must be a finite number, got { $value }
thresholds-review-above-reject = review threshold { $review } is above the reject threshold { $reject }: the review band must lie below reject
live-plc = PLC
live-plc-connected = connected
live-plc-offline = offline
live-plc-sent = Acknowledged / sent
live-plc-late-missed = Late / missed
live-plc-latency = To PLC median / p99
cli-plc = Send the window's decisions to a PLC: modbus-tcp://HOST:PORT[?unit=N] (repeatable).
cli-mqtt = Publish the window's items, alarms and state to an MQTT broker: mqtt://HOST:PORT[/PREFIX] (repeatable).
cli-inspect-reject-on-doubt = Reject on doubt: items in the review band (and unscored ones) go to the PLC as rejects; the database keeps the model's verdict.
cli-inspect-source = camera:N, folder:PATH or synthetic[:SEED]; repeat it to watch several cameras at once, one station each (STATION-1, STATION-2, ...).
cli-source-only-one = this command reads one source, not { $n }: give --source once
cli-inspect-plc-one-camera = --plc with several --source is not supported: each PLC item ring serves one station; run one foodqc inspect per camera with its own --plc
cli-inspect-camera-line = { $station } ({ $source }): { $frames } frames, { $dropped } dropped; { $items } items, { $rejects } rejects ({ $rate }); capture -> verdict p99 { $p99 } ms
cli-inspect-cameras-recorded = all cameras: { $recorded } recorded, { $journaled } journaled, in { $seconds } s
recipe-unknown = recipe { $recipe } is not in the database (foodqc recipe list shows the recipes)
recipe-model-not-registered = recipe { $recipe }: model version { $version } is not registered on this station
recipe-model-mismatch = recipe { $recipe }: { $path } holds model version { $found }, not { $version }
cli-recipe-about = Recipes, the product setups a line switches between at a changeover: `save` (from the running setup), `list`, `export` and `import` as a JSON file. Saving and importing are a QC manager's; `inspect --recipe NAME` runs one, the PLC's recipe register selects one.
cli-recipe-user = QC manager who signs in to save or import (password from FOODQC_ACTOR_PASSWORD or a prompt).
cli-recipe-save-about = Save a recipe as its next version, from the running setup (the active model and its thresholds) with the options given on top.
cli-recipe-list-about = List the newest version of every recipe.
cli-recipe-export-about = Write a recipe's newest version as a JSON file.
cli-recipe-import-about = Save the recipe of a JSON file (from `recipe export`) as its next version here.
cli-recipe-save-name = Recipe name, e.g. galleta-vainilla.
cli-recipe-save-plc-index = Index the PLC writes into its recipe register to select this recipe (1..65535).
cli-recipe-save-reject = Reject threshold (default: the model's).
cli-recipe-save-review = Review threshold: items above it and not above reject go to review.
cli-recipe-save-reject-on-doubt = Review-band items go to the PLC as rejects.
cli-recipe-save-expected-items = Items a frame is expected to hold.
cli-recipe-save-min-item-area = Smallest item as a share of the frame area, e.g. 0.004 (default: the model's).
cli-recipe-save-min-belt-contrast = Least colour difference to the belt for a pixel to count as product, 1..255 (default: the model's).
cli-recipe-save-notes = Free text: the product, what changed.
cli-recipe-list-json = Print the recipes as JSON.
cli-recipe-export-name = Recipe name.
cli-recipe-export-out = File to write.
cli-recipe-import-file = A recipe JSON file.
recipe-cannot-write = cannot write { $path }: { $error }
recipe-cannot-read = cannot read { $path }: { $error }
cli-recipe-exported = recipe { $recipe } written to { $path }
cli-recipe-saved = recipe { $recipe } saved by { $by }
cli-recipe-none = no recipes yet (foodqc recipe save NAME --user QC_MANAGER)
cli-recipe-line = { $recipe }: PLC index { $plc }, model { $model }, reject above { $reject }; saved by { $by }
cli-inspect-recipe = Judge with this recipe (its newest version: model, thresholds, reject on doubt); see `foodqc recipe`.
cli-inspect-mqtt = Publish every item, the alarms and the station's state to an MQTT broker: mqtt://HOST:PORT[/PREFIX] (repeatable). Topics PREFIX/STATION/items, /alarms and /state (retained); the message format is in the README.
live-plc-inputs = From the PLC
live-plc-inputs-value = lot { $lot }, recipe { $recipe }
live-plc-test-fire = Test fire ejector
live-plc-test-fire-tip = Fire the ejector once, with no item behind it, to check valve and timing (audited). Fired so far: { $fired }.
line-setup = Line outputs
line-setup-plc = PLC
line-setup-mqtt = MQTT broker
line-setup-plc-hint = modbus-tcp://HOST:502
line-setup-mqtt-hint = mqtt://HOST:1883/foodqc
line-setup-reject-on-doubt = Reject on doubt
line-setup-reject-on-doubt-tip = Items in the review band (and unscored ones) go to the PLC as rejects; the record keeps the model's verdict.
line-setup-apply = Apply and restart the line
line-setup-apply-tip = Checks the addresses, records the change in the audit trail and restarts the station with them (admins).
live-mqtt = MQTT
live-mqtt-acked = Acknowledged / published
live-mqtt-backlog = Waiting for the broker
live-mqtt-latency = To broker median / p99

## Frame sources and the station (errors people read)
capture-no-camera = no camera found (looked for camera index { $index }); attach a camera or use --source synthetic
capture-camera-open = camera { $index } could not be opened: { $reason }
capture-camera-lost = camera { $index } stopped delivering frames (unplugged?): { $reason }
capture-camera-not-built = camera support is not built in (build with the `camera` feature)
capture-folder-missing = folder { $path } does not exist or is not a directory
capture-folder-empty = folder { $path } holds no .jpg/.jpeg/.png images
capture-io = cannot read { $path }: { $error }
capture-nothing-decodable = every image in { $path } failed to decode ({ $count } files); last error: { $last }
capture-out-of-range = { $option } = { $value } is out of range: { $allowed }
capture-bad-spec = invalid source `{ $spec }`: { $reason }
station-source = cannot open source { $spec }
station-model-json = cannot describe model { $version } for the database
station-spawn = cannot start the { $thread } thread
station-panicked = the { $thread } thread panicked
station-recorder-in-use = the recorder is still in use
station-none = no station to start: give at least one source
station-mixed-data-dirs = station { $station } records into another data folder than the first station
station-recorder-stopped = the recorder stopped; inspections can no longer be saved

## Database errors people read
store-is-directory = database path { $path } is a directory, not a file; point foodqc at a file inside it (e.g. { $path }/foodqc.sqlite)
store-not-a-database = { $path } is not a foodqc database (file is not a database); move it away or choose another data folder
store-foreign = { $path } is an SQLite database of another program (it has tables but no foodqc schema version); refusing to modify it
store-open = cannot open database { $path } for writing: { $cause } (check that the file and its folder are writable)
store-key-needed = database { $path } is encrypted: a key is needed (set FOODQC_DB_KEY or FOODQC_DB_KEY_FILE)
store-wrong-key = database { $path } does not open with the key given: the key is wrong (check FOODQC_DB_KEY, FOODQC_DB_KEY_FILE or the passphrase typed), or the file is not a foodqc database
store-not-encrypted = database { $path } is not encrypted, but a database key is set; encrypt it with `foodqc encrypt` (with the station stopped), or unset FOODQC_DB_KEY and FOODQC_DB_KEY_FILE to use it unencrypted
store-too-new = database { $path } has schema version { $found }, but this foodqc only knows versions up to { $supported }; it was written by a newer foodqc; upgrade foodqc (the file was not modified)
store-damaged = database { $path } is damaged ({ $detail }); foodqc will not write into it. Restore the latest backup with `foodqc restore FILE` (daily backups are in { $backups }), or move the damaged file away to start a new database
store-would-overwrite = refusing to write { $path }: it is the database { $db } or one of its own files; choose another file name
store-bad-backup = cannot restore from { $path }: { $reason }; the current database was not changed
store-unrecorded = inspection recorder for { $path } gave up with { $unrecorded } item(s) not recorded; last error: { $last_error }

## Errors of the core library (files, models, database, training, line outputs)
err-bench-kafka = plant brokers { $brokers }: { $error }
err-bench-plant-not-empty = the plant benchmark needs an empty plant database; { $db } holds { $rows } inspections (use a scratch database)
err-bench-error-pool = cannot build the thread pool: { $v0 }
err-bench-error-create-dir = cannot create { $path }: { $source }
err-bench-error-read = cannot read { $path }: { $source }
err-bench-error-line-sim = cannot start the line simulator: { $v0 }
err-bench-error-source-ended = the synthetic line ended unexpectedly
err-bench-error-encode = cannot encode a JPEG: { $v0 }
err-bench-error-decode = cannot decode a benchmark input: { $v0 }
err-bench-error-size = cannot read the size of a benchmark input: { $v0 }
err-bench-error-deep = deep tier: { $v0 }
err-bench-error-labelled-training = labelled training failed: { $v0 }
err-bench-error-no-training-run = no training run
err-capture-camera-decode-jpeg = JPEG decoding failed ({ $bytes } bytes): { $source }
err-capture-camera-decode-odd-width = YUYV frame width { $width } is odd
err-capture-camera-decode-buffer-size = internal error: wrong buffer size for { $width }x{ $height }
err-domain-paths-no-data-dir = no home directory found; pass --data-dir to choose where foodqc keeps its data
err-domain-role-unknown-role = unknown role { $v0 }: use one of operator, technician, data_scientist, qc_manager, admin
err-eval-error-no-dataset = dataset folder { $root } does not exist
err-eval-error-no-train-images = dataset { $root } needs good training images: { $source }
err-eval-error-no-test-images = dataset { $root } has no test images (test/<class>/*.jpg)
err-eval-error-list-dir = cannot list { $path }: { $source }
err-eval-error-image-size = cannot read the size of { $path }: { $source }
err-eval-error-mask = cannot read mask { $path }: { $source }
err-eval-error-mask-size = mask { $path } is { $size }x{ $size2 } but its photo is { $photo }x{ $photo2 }
err-eval-error-deep = deep tier: { $v0 }
err-eval-error-selection = choosing the tier: { $v0 }
err-eval-error-grading = grading { $dir } failed: { $source }
err-eval-error-create-dir = cannot create { $path }: { $source }
err-eval-error-write-preview = cannot write { $path }: { $source }
err-i18n-unknown-language = unknown language { $v0 }: use one of en, es
err-imageio-decode-image-load-error = cannot decode image { $path }: { $source }
err-labeling-export-not-a-folder = export path { $path } exists and is not a folder
err-labeling-export-io = cannot write { $path }: { $source }
err-labeling-export-csv = cannot write { $path }: { $source }
err-labeling-import-no-actor = import needs the name of who imports (actor); got an empty name
err-labeling-import-copy-mask = cannot copy mask { $from } to { $to }: { $source }
err-labeling-import-mask = mask { $path }: { $source }
err-labeling-import-mask-size = mask { $path } is { $mask }x{ $mask2 } but the image is { $image }x{ $image2 }
err-lineio-modbus-unit = unit { $v0 } in { $v1 } is not a number from 0 to 255
err-lineio-modbus-option = unknown option { $v0 } in { $v1 }: only unit=N is understood
err-lineio-mqtt-port = port { $v0 } in { $v1 } is not a number from 1 to 65535
err-lineio-mqtt-prefix = prefix { $v0 } in { $v1 } must not contain '+', '#' or empty levels
err-model-anomaly-io = cannot read model file { $path }: { $source }
err-model-anomaly-parse = model file { $path } is not valid: { $reason }
err-model-anomaly-inconsistent = model file { $path } is damaged: { $what }
err-model-anomaly-fit = could not fit the { $what } model: { $source }
err-model-anomaly-cancelled = training was cancelled
err-model-backbone-format = the weights are not a valid safetensors file: { $v0 }
err-model-backbone-missing-tensor = the weights file has no tensor `{ $name }`
err-model-backbone-shape = tensor `{ $name }` has shape { $found }, EfficientNet-Lite0 needs { $expected }
err-model-backbone-d-type = tensor `{ $name }` is stored as { $found }; only F16 and F32 are read
err-model-backbone-input-too-small = the input is { $width }x{ $height }; the backbone needs at least 32x32
err-model-classifier-error-io = cannot read or write classifier file { $path }: { $source }
err-model-classifier-error-parse = classifier file { $path } is not valid: { $reason }
err-model-classifier-error-inconsistent = classifier file { $path } is damaged: { $what }
err-model-classifier-error-data = bad training data: { $v0 }
err-model-classifier-error-one-class = need at least two classes to train, found { $v0 }
err-model-classifier-error-fit = the SVM solver failed: { $v0 }
err-model-classifier-error-dimension = feature vector has { $got } values, the classifier expects { $expected }
err-model-deep-item = item { $index }: { $source }
err-model-deep-bank = memory bank: { $v0 }
err-model-deep-backbone = pretrained network: { $v0 }
err-model-deep-cancelled = cancelled
err-model-deep-patches-backbone = pretrained network: { $v0 }
err-model-deep-patches-patches = patch descriptors: { $v0 }
err-model-deep-patches-no-cells = the item covers no cell of the { $side }x{ $side } patch grid
err-model-gaussian-too-few-samples = need at least { $needed } samples to fit, got { $got }
err-model-gaussian-wrong-length = sample { $index } has { $got } values, expected { $expected }
err-model-gaussian-not-finite = feature { $index } has a non-finite value
err-model-grading-read = cannot read { $path }: { $source }
err-model-grading-network = pretrained network: { $v0 }
err-model-operating-io = { $action ->
        [write] cannot write score file { $path }: { $source }
       *[read] cannot read score file { $path }: { $source }
    }
err-model-operating-json = score file { $path } is not valid: { $source }
err-model-operating-non-finite = score file { $path } has a non-finite score ({ $score }) for `{ $origin }`
err-model-patchcore-no-maps = no feature maps given: pass at least one (finest first)
err-model-patchcore-map-grid = feature map { $map } ({ $found }) does not fit map 0 ({ $first }): { $reason }
err-model-patchcore-non-finite = non-finite value (NaN or infinity) in { $what }
err-model-patchcore-options = invalid PatchCore options: { $v0 }
err-model-patchcore-cancelled = training was cancelled
err-model-patchcore-damaged = damaged PatchCore model: { $v0 }
err-model-patchcore-io = cannot access PatchCore model file { $path }: { $source }
err-model-patchcore-parse = PatchCore model file { $path } is not valid: { $reason }
err-model-selection-too-few-items = synthetic-defect validation needs at least { $needed } good items, got { $got }
err-model-selection-classical = classical tier: { $v0 }
err-model-selection-deep = deep tier: { $v0 }
err-reports-write = cannot write { $path }: { $reason }
err-reports-cancelled = export to { $path } cancelled
err-services-model-choice-active-unreadable = cannot read the active model: { $v0 }
err-services-model-choice-registered = the promoted model { $version } cannot be used ({ $reason })
err-services-threshold-settings-not-registered = model version { $version } is not registered in { $db }: start the line first
err-services-threshold-settings-no-preview-images = No test images found on disk for the preview (the score file names them).
err-store-create-dir = cannot create folder { $path }: { $source }
err-store-create-file = cannot create the database file { $path }: { $source }
err-store-key = database key from { $from }: { $reason }
err-store-migration = migrating database { $path } to schema version { $target } failed: { $source }
err-store-sqlite = database { $path }: { $what }: { $source }
err-store-not-found = database { $path }: no row with id { $id } in table { $table }
err-store-conflict = database { $path }: { $what }
err-store-invalid-value = database { $path }: invalid value { $value } in { $table }.{ $column }
err-store-json = database { $path }: bad JSON in { $table }.{ $column }: { $source }
err-store-non-utf8-path = path { $path } is not valid UTF-8 and cannot be stored in { $table }
err-store-encode = cannot encode sample image ({ $width }x{ $height }) as PNG for { $dir }: { $source }
err-store-io = cannot write { $path }: { $source }
err-store-recorder = inspection recorder for { $path }: { $reason }
err-store-read-model-filter-filter-error = filter { $field }: { $value } { $problem }
err-training-job-not-enough-data = not enough labelled samples to train: { $v0 }
err-training-job-cancelled = training was cancelled; nothing was saved
err-training-job-save = cannot save the model to { $path }: { $reason }
err-training-job-measure-no-item = no item found in the image
err-training-cancelled = cancelled
err-training-no-truth = source { $source_name } has no ground truth
err-training-too-few-truth-items = the source gave too few items with ground truth
err-vision-synthetic-defects-empty-mask = the { $role } mask has no item pixel
err-vision-synthetic-defects-size-mismatch = the { $role } crop is { $rgb } px but its mask is { $mask } px
err-vision-synthetic-defects-not-placed = no { $kind } defect could be placed on the item (seed { $seed })


## Details of errors people read (users, imports, backups, cameras, the desk)
station-cannot-switch-source = cannot switch to { $source }: { $error }
store-user-exists = a user named "{ $user }" exists already
store-no-such-user = no user named "{ $user }"
desk-cannot-start-training = cannot start training: { $error }
desk-cannot-save-mask = cannot save mask { $path }: { $error }
desk-cannot-create-folder = cannot create the folder { $path }: { $error }
desk-cannot-start-job = cannot start the { $job } job: { $error }
desk-cannot-start-worker = cannot start the desk worker: { $error }
import-line-lacks-column = line { $line } lacks the file or label column
import-line-empty-label = line { $line } ({ $file }) has an empty label
import-listed-not-found = listed in { $csv } but not found (or not a PNG/JPEG file)
export-cannot-read-sample = cannot read the sample image: { $error }
export-cannot-read-mask = cannot read the mask (image exported without it): { $error }
folder-skipped = skipped { $reason }
backup-wrong-key = it does not open with the database key given
backup-not-sqlite = not an SQLite database ({ $error })
backup-not-foodqc = it is not a foodqc database
backup-too-new = it has schema version { $version }, newer than this foodqc's { $ours }
backup-damaged = it is damaged ({ $error })
backup-copy-fails-check = the copy fails its check: { $check }
camera-refused-format = the camera refused format { $format }: { $error }
camera-cannot-stream = cannot start streaming: { $error }

## Stored values as the reader says them
label-source-frame = frame { $frame }
audit-record-lot = lot { $value }
audit-record-sample = sample { $value }
audit-record-user = user { $value }
audit-record-model = model { $value }

## The plant (Kafka)
kafka-bad-address = Kafka broker address "{ $address }" in "{ $all }" is not HOST:PORT (port 1 to 65535)
kafka-tls-bad-switch = { $variable } is "{ $value }": use 1/true/on to switch TLS to the Kafka brokers on, 0/false/off for plaintext
kafka-tls-file = { $variable }: cannot read { $file }: { $error }
kafka-tls-pair = { $set } is set without { $missing }: a client certificate needs its key (and the key its certificate)
kafka-tls-ca-file = the brokers' authority { $file } cannot be read: { $error }
kafka-crop-too-large = reject crop { $crop } is { $bytes } bytes as JPEG, over the limit of { $limit }: not sent to the plant
kafka-cannot-start = cannot start publishing to the plant brokers { $brokers }: { $error }
cli-inspect-kafka = Publish every inspection and audit entry to the plant's Kafka: HOST:PORT[,HOST:PORT]. Records go to an outbox in the same transaction; a broker away lets it grow, and it drains when the broker is back.
cli-inspect-kafka-crops = With --kafka, also send the crop of each reject as JPEG to the topic foodqc.rejects, when it is at most this many KiB (1 to 900; a larger one is not sent and counted).
cli-inspect-plant-summary = plant: { $delivered } messages acknowledged by { $brokers }, { $pending } waiting in the outbox
plant-db-error = plant database { $db }: { $what }: { $error }
plant-cannot-consume = cannot read the plant topics from { $brokers }: { $error }
plant-bad-message = skipped a message of { $topic } (partition { $partition }, offset { $offset }) that is not a foodqc record: { $error }
cli-keys-about = Plant signing keys: show this PC's (it seals the lot decisions and model releases made here), trust, list and revoke the keys whose messages this station applies.
cli-keys-user = Admin who signs in to trust or revoke a key (password from FOODQC_ACTOR_PASSWORD or a prompt).
cli-keys-show-about = Print this PC's plant signing key (made on first use): give it to the stations' admins.
cli-keys-show-json = Print JSON.
cli-keys-list-about = List the keys this station trusts.
cli-keys-list-json = Print JSON.
cli-keys-trust-about = Trust a deciding PC's key: its lot decisions and model releases apply here.
cli-keys-trust-name = A name for the key, e.g. the QC manager's PC (calidad-pc-2).
cli-keys-trust-key = The public key as foodqc keys show prints it on that PC (base64).
cli-keys-revoke-about = Stop trusting a key: its messages are refused from now on.
cli-keys-revoke-name = The name the key was trusted under.
cli-keys-own = plant signing key of this PC (fingerprint { $fingerprint }); trust it at each station with foodqc keys trust NAME KEY:
cli-keys-none = this station trusts no plant key yet: it refuses every lot decision and model release from the plant (foodqc keys trust NAME KEY)
cli-keys-row = { $name }  { $fingerprint }  (trusted by { $by })
cli-keys-trusted = trusted key { $name } ({ $fingerprint }): its lot decisions and model releases now apply here
cli-keys-revoked = revoked key { $name } ({ $fingerprint }): its messages are refused from now on
plant-trust-bad-key = { $key } is not a plant key: give the base64 text foodqc keys show prints (32 bytes)
plant-trust-no-such = no trusted key is named { $name } (foodqc keys list)
cli-plant-about = Collect every station's records from the plant's Kafka into PostgreSQL (run several: the topics' partitions are shared among them).
cli-plant-kafka = Kafka brokers: HOST:PORT[,HOST:PORT].
cli-plant-postgres = The plant database: postgres://USER[:PASSWORD]@HOST:PORT/DB.
cli-plant-group = Consumer group; collectors of one group share the partitions.
cli-plant-idle-exit = Stop after this many seconds without a message (default: run until stopped).
cli-plant-summary = plant collector: { $messages } messages read, { $stored } rows stored ({ $skipped } skipped) in { $seconds } s
monitor-cannot-start = cannot serve /metrics on { $addr }: { $error }
monitor-starting = starting
monitor-source-lost = station { $station }: the camera is lost
monitor-stalled = station { $station }: no frame judged for 2 s
monitor-collector-stuck = the collector has not turned for { $seconds } s
cli-inspect-metrics = Serve /metrics (Prometheus) and /healthz on this address, e.g. 0.0.0.0:9186.
cli-plant-metrics = Serve /metrics (Prometheus) and /healthz on this address, e.g. 0.0.0.0:9187.
plant-keys = Plant keys
plant-keys-own = This PC's key:
plant-keys-own-tip = Seals the lot decisions and model releases signed at this PC. Each station's admin trusts it (Copy, then Trust there, or foodqc keys trust).
plant-keys-copy = Copy key
plant-keys-copy-tip = Copies this PC's public key (base64) to paste at the stations.
plant-keys-copied = key copied
plant-keys-none = No trusted key: this station refuses every lot decision and model release from the plant.
plant-keys-trusted = Lot decisions and model releases from these keys apply here:
plant-keys-by = trusted by { $by }
plant-keys-revoke = Revoke
plant-keys-revoke-confirm = Revoke: sure?
plant-keys-revoke-tip = From now on this key's messages are refused (admins; audited).
plant-keys-name = Name
plant-keys-name-hint = calidad-pc-2
plant-keys-key = Key
plant-keys-key-hint = as the deciding PC's Copy key gives it
plant-keys-not-a-key = not a plant key: paste the 44-character text the deciding PC copies
plant-keys-trust = Trust key
plant-keys-trust-tip = The lot decisions and model releases this key seals apply at this station from now on (admins; audited).
desk-plant-key-trusted = trusted key { $name } ({ $fingerprint })
desk-plant-key-revoked = revoked key { $name } ({ $fingerprint })
line-setup-kafka = Plant Kafka
line-setup-kafka-hint = HOST:9092
line-setup-kafka-tip = Every inspection and audit entry also goes to the plant's Kafka, through an outbox that waits while the brokers are away.
line-setup-kafka-ca = Kafka CA
line-setup-kafka-ca-hint = /etc/foodqc/kafka-ca.pem
line-setup-kafka-ca-tip = The authority (PEM file) that signed the brokers' certificates: with it the records go over TLS, and a broker whose certificate or host name does not match gets nothing. Empty: as FOODQC_KAFKA_CA / FOODQC_KAFKA_TLS say, else plaintext.
status-plant = plant: { $pending } waiting, { $delivered } sent
status-plant-tip = Records on their way to the plant's Kafka: waiting in the outbox, and sent since the start.
status-plant-error = plant: { $error }
