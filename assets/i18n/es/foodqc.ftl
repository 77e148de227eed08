# foodqc, español del Perú, para la línea: etiquetas cortas en imperativo, términos de planta
# (lote, turno, línea, rechazo, retener / liberar lote, merma, inocuidad). Mismos ids que en/.

## Shared

items-count = { $count ->
    [one] { $count } pieza
   *[other] { $count } piezas
}
verdict-pass = conforme
verdict-review = revisar
verdict-reject = rechazo
any = todos
cancel = Cancelar
ok = OK

## Defect classes (the database keeps the English keys; only the display is translated)

class-good = conforme
class-crack = grieta
class-burnt = quemado
class-discoloration = decoloración
class-mold = moho / podredumbre
class-foreign-matter = materia extraña
class-deformed = deformado
class-missing-piece = pieza faltante
class-unclassified = sin clasificar

## Tabs and the top bar

tab-live = En vivo
tab-label = Etiquetar
tab-train = Entrenar
tab-thresholds = Umbrales
tab-reports = Reportes
top-pause = ⏸ Pausar
top-resume = ▶ Reanudar
top-pause-tip = Pausar o reanudar la vista de la línea (Espacio)
top-help-tip = Atajos de teclado (F12)
top-theme-tip = Tema claro / oscuro
top-language-tip = Idioma de la estación
top-source = Fuente
top-synthetic = Línea sintética
top-no-camera = No se encontró cámara
top-camera = Cámara { $index }: { $name }
top-folder-hint = carpeta a reproducir
top-replay = Reproducir carpeta
source-synthetic = Línea sintética (semilla { $seed })
source-camera = Cámara { $index }
source-folder = Carpeta { $name }
window-open-failed = no se puede abrir la ventana: { $error }
no-camera-notice = No se encontró cámara: corre la línea sintética incorporada. Elija una cámara o una carpeta en el menú de fuente.
desk-stopped = el proceso de escritorio se detuvo

## Keyboard shortcuts sheet

keys-title = Atajos de teclado
keys-tabs = En vivo, Etiquetar, Entrenar, Reportes
keys-space = Espacio
keys-pause = Pausar / reanudar la vista de la línea
keys-heat = Mapa de calor sí / no
keys-capture = Capturar las piezas del siguiente cuadro para etiquetar
keys-label-class = Etiquetar: conforme (0) o la clase de defecto con esa tecla
keys-up-down = Arriba, Abajo
keys-label-move = Etiquetar: muestra anterior / siguiente
keys-label-undo = Etiquetar: deshacer la última etiqueta
keys-label-mask = Etiquetar: pintar la máscara del defecto
keys-f12 = F12 o ?
keys-this-sheet = Esta hoja

## Status bar

status-ui-time = UI { $ms } ms p95
status-recording-error = ⚠ grabación: { $error } · en diario { $journal }
status-recorded = grabadas { $recorded } · pendientes { $pending } · en diario { $journal }
status-source-synthetic = línea sintética { $width }×{ $height } (semilla { $seed })
status-source-folder-once = carpeta { $dir } ({ $images ->
        [one] 1 imagen
       *[other] { $images } imágenes
    }, una vez)
status-source-folder-loop = carpeta { $dir } ({ $images ->
        [one] 1 imagen
       *[other] { $images } imágenes
    }, en bucle)

## Live tab
live-model = Modelo
live-items-inspected = Piezas inspeccionadas
live-rejected = Rechazadas
live-to-review = Por revisar
live-reject-rate = Tasa de rechazo
live-reject-rate-trend = tasa de rechazo, últimos 2 min
live-heat-map = Mapa de calor (H)
live-scores = Puntajes
live-capture = 📷 Capturar para etiquetar (C)
live-capture-tip = Guarda las piezas del siguiente cuadro como muestras para Etiquetar
live-lot = Lote
live-lot-hint = código de lote
live-lot-apply = Aplicar
live-lot-apply-tip = Registrar las siguientes piezas en este lote
live-waiting = Esperando el primer cuadro…
live-paused = ⏸ EN PAUSA
live-fps = Cuadros / s
live-inspection-time = Inspección
live-dropped = Cuadros perdidos
live-frames = Cuadros
live-skipped-files = Archivos omitidos
live-legend = Leyenda
live-legend-pass = borde continuo: conforme
live-legend-reject = borde grueso a trazos: rechazo
live-legend-review = trazos cortos, ?: revisar (a etiquetar)
live-legend-partial = gris: entrando / saliendo, aún sin juzgar
live-legend-heat = magenta: zona del defecto
live-not-running = La línea no está corriendo:
    { $error }
live-alarm = ALARMA  { $message }
live-lot-on-hold = LOTE { $lot } RETENIDO: no despachar hasta que Calidad lo libere
live-tag-reject = ✖ RECHAZO{ $class } { $score }
live-tag-review = ? REVISAR{ $class } { $score }

## Reports tab: lot disposition and export
reports-disposition = Disposición del lote
reports-comment-hint = comentario (obligatorio): por qué retener o liberar
reports-hold-lot = Retener lote
reports-release-lot = Liberar lote
reports-disposition-disabled = Primero elija un lote y escriba un comentario
reports-choose-lot = elija un lote
reports-export = Exportar
reports-export-note = Las inspecciones filtradas en CSV; el reporte en PDF.
reports-quick-csv = CSV rápido
reports-quick-pdf = PDF rápido
reports-cancel-export = Cancelar exportación
reports-lot-held = { $code } (RETENIDO)
reports-status-hold = Estado: { $status } (no despachar)
reports-status = Estado: { $status }
reports-last-change = último cambio por { $who }, { $when }: { $comment }
reports-save-into = Guardar en { $dir }
reports-export-running = { $format }: exportando
lot-status-open = abierto
lot-status-hold = retenido
lot-status-released = liberado
report-title = Reporte de calidad foodqc

## Report queries and SPC (library, shared by the window, the CLI and the PDF)

group-lot = lote
group-hour = hora
group-shift = turno
group-station = estación
query-hours = por hora (resumen, deriva)
query-pareto = pareto
query-lots = lotes
query-groups = por { $group }
spc-rule-1 = regla 1: un punto fuera de 3 sigma
spc-rule-2 = regla 2: 2 de 3 puntos fuera de 2 sigma, mismo lado
spc-rule-3 = regla 3: 4 de 5 puntos fuera de 1 sigma, mismo lado
spc-rule-4 = regla 4: 8 puntos seguidos a un lado de la línea central
spc-alarm = Tasa de rechazo fuera de control: { $rate } (central { $centre }, límite superior { $limit }): { $rules }
filter-between = { $from } a { $to }
filter-from = desde { $from }
filter-until = hasta { $to }
filter-all-time = todo el periodo
filter-station = estación
filter-line = línea
filter-lot = lote
filter-product = producto
filter-shift = turno
filter-verdict = veredicto
filter-defect = defecto
filter-recipe = receta
filter-model = modelo

## Reports tab: charts
reports-running = Generando el reporte…
reports-no-match = Ninguna inspección cumple estos filtros.
reports-pareto-title = Pareto de defectos (rechazos); línea: % acumulado. Haga clic en una barra.
chart-rejects = rechazos
chart-cumulative = acumulado
chart-reject-proportion = proporción de rechazo
chart-ucl = LSC
chart-lcl = LIC
chart-centre = central
chart-in-control = bajo control
chart-out-of-control = fuera de control
reports-pchart-tip = Haga clic en un punto para ver sus piezas
reports-review = Revisar
reports-out-of-control = Fuera de control
reports-drift-title = Deriva: puntaje medio de las piezas conformes por hora; a trazos: percentil 95 del entrenamiento
chart-training-p95 = p95 entrenamiento
chart-mean-score = puntaje medio
chart-drifting = con deriva
reports-heading-plant = Reporte de calidad de planta: { $filter }
reports-plant-need-url = Escriba la dirección de la base de datos de planta (postgres://USUARIO@HOST:PUERTO/BD) a la izquierda y pulse Abrir.
reports-heading = Reporte de calidad: { $filter }
reports-pchart-title = Gráfico p por { $group } (central { $centre }; límites de 3 sigma según el tamaño del subgrupo; cuadrados rojos: fuera de control). Clic en un punto para ver sus piezas.
reports-group-key = { $group } { $key }
reports-drill-defect = defecto { $class }
reports-ooc-count = { $group ->
    [lot] { $n } de { $total } lotes
    [hour] { $n } de { $total } horas
    [shift] { $n } de { $total } turnos
   *[other] { $n } de { $total } estaciones
}
reports-drift-warning = { $hours ->
    [one] AVISO: deriva de puntaje en { $hours } hora: más del { $share } de las piezas conformes superan el percentil 95 del entrenamiento (esperado { $expected }). Revise iluminación, cámara y producto, o reentrene.
   *[other] AVISO: deriva de puntaje en { $hours } horas: más del { $share } de las piezas conformes superan el percentil 95 del entrenamiento (esperado { $expected }). Revise iluminación, cámara y producto, o reentrene.
}

## Reports tab: drill-down and filters
reports-drill = Detalle
reports-drill-hint = clic en un punto del gráfico p, una barra del Pareto o un subgrupo abajo
reports-rejects-only = solo rechazos
reports-next-click = Se aplica al siguiente clic
reports-images-only = solo con imagen
reports-images-only-tip = Solo piezas con recorte guardado; se aplica al siguiente clic
reports-col-items = piezas
reports-col-rate = tasa
reports-col-status = estado
reports-col-rules = reglas
reports-hold-badge = RETENIDO
reports-col-image = imagen
reports-col-time = hora (planta)
reports-col-verdict = veredicto / clase
reports-col-score = puntaje
reports-database = Base de datos
reports-db-station = Esta estación
reports-db-plant = Planta
reports-db-plant-tip = Los registros de todas las estaciones, como los guardó el colector de planta en PostgreSQL. Aquí solo se leen: los lotes se retienen y liberan en su estación. La clave no se guarda.
reports-plant-url-hint = postgres://qc@planta-bd:5432/foodqc
reports-plant-open = Abrir
reports-disposition-plant = Para decidir desde la vista de planta, configure Kafka de planta en las salidas a línea: la decisión llega a las estaciones por ahí.
reports-filters = Filtros
reports-from = Desde
reports-to = Hasta
reports-time-tip = Hora de la planta ({ $zone }): 2026-11-20 o 2026-11-20 06:00. Una hora RFC 3339 con desfase se toma tal cual.
reports-station = Estación
reports-line = Línea
reports-product = Producto
reports-shift = Turno
reports-verdict = Veredicto
reports-defect = Defecto
reports-chart-by = Graficar por
reports-apply-tip = Generar el reporte con estos filtros
reports-clear = Limpiar
reports-querying = consultando la base de datos
reports-drill-count = { $count ->
    [one] { $title }: { $count } pieza (las últimas primero, máximo 300)
   *[other] { $title }: { $count } piezas (las últimas primero, máximo 300)
}
reports-rule = regla { $number }
reports-out = FUERA: { $rules }
reports-queries-took = Las consultas tomaron { $ms } ms:
apply = Aplicar

## Thresholds tab
thr-score-file-hint = <modelo>_scores.json de foodqc eval
thr-load = Cargar
thr-load-tip = Leer el archivo de puntajes y los últimos 10 000 puntajes de producción
thr-no-scores = No hay puntajes cargados. Ejecute `foodqc eval --dataset DIR` para puntuar un conjunto etiquetado, o etiquete muestras de producción.
thr-pixel = Celdas del mapa de calor sobre
thr-pixel-tip = Lo que cuenta como zona de defecto en la vista en vivo
thr-reject-above = Rechazar sobre
thr-reject-threshold = Umbral de rechazo
thr-review-from = Banda de revisión desde
thr-review-tip = Las piezas entre los dos umbrales van a una persona (cola de etiquetado)
thr-review-to = hasta el umbral de rechazo
thr-review-threshold = Umbral de revisión
thr-snap = Ajustar a
thr-max-f1 = F1 máx.
thr-max-f1-tip = El umbral con el mejor F1 en el conjunto etiquetado
thr-escape = escape <=
thr-escape-tip = El umbral más alto que deja pasar como máximo esta fracción de piezas defectuosas
thr-no-defective = No hay piezas defectuosas en el conjunto.
thr-false-reject = falso rechazo <=
thr-false-reject-tip = El umbral más bajo que rechaza como máximo esta fracción de piezas buenas
thr-no-good = No hay piezas buenas en el conjunto.
thr-precision = Precisión
thr-recall = Sensibilidad
thr-false-rejects = Falsos rechazos
thr-escapes = Escapes
thr-per-class = Por clase de defecto
thr-per-class-note = Los umbrales propios se usan cuando el clasificador nombra la clase; si no, rige el umbral de rechazo de arriba.
thr-col-class = clase
thr-col-recall = sensibilidad
thr-col-own = umbral propio
thr-live = En línea:
thr-why = Por qué
thr-why-hint = p. ej. F1 máx. en la evaluación de galletas
thr-apply = Aplicar a la línea
thr-apply-tip = Guardar como ajuste de la versión en línea (registro de auditoría) y juzgar con él de inmediato
thr-back = Volver a lo vigente
thr-back-tip = Descartar los cambios de esta pestaña
thr-history = Historial de esta versión del modelo
thr-in-force = vigente
thr-revert = Revertir
thr-rejected = rechazadas
thr-passed = pasan
thr-defective = defectuosas
thr-escapes-tip = escapes: piezas defectuosas que pasan
thr-good = buenas
thr-false-rejects-tip = falsos rechazos: piezas buenas descartadas (merma)
thr-loading = cargando puntajes
thr-scores-curves = Puntajes y curvas
thr-pixel-preview = Vista previa del umbral de píxel
n-a = n/d
thr-load-first = Cargue puntajes para ver sus histogramas y curvas.
thr-hist-title = Histograma de puntajes por clase real · clic o arrastre para mover el umbral de rechazo
chart-review-band = banda de revisión
chart-review-threshold = umbral de revisión
chart-reject-threshold = umbral de rechazo
chart-production = producción (escalada)
chart-false-reject-rate = tasa de falso rechazo
chart-precision = precisión
chart-operating-point = punto de operación
thr-preview-good = buena: sin píxeles de defecto
thr-preview-load-first = Primero cargue un archivo de puntajes: la vista previa usa sus imágenes de prueba.
thr-preview-scoring = puntuando imágenes de vista previa
thr-pixel-threshold = Umbral de píxel
thr-preview-note = las celdas sobre él son zonas de defecto (cajas, magenta sólido); las más tenues superan la mitad. Máscara real a la derecha.
thr-set-summary = { $items } piezas etiquetadas: { $good } buenas, { $defective } defectuosas · AUROC { $auroc } · AP { $ap }
thr-at = En { $threshold }
thr-bands = Bandas (buenas / defectuosas): pasan { $pg } / { $pd } · revisar { $vg } / { $vd } · rechazo { $rg } / { $rd }
thr-production = En las últimas { $count } piezas de producción: { $rejected } rechazadas, { $review } por revisar
thr-live-setting = rechazo { $reject }{ $review }, píxel { $pixel }
thr-live-review = , revisar desde { $review }
thr-pixel-tip-value = píxel { $pixel }
thr-revert-reason = revertir a #{ $id }
thr-roc-title = ROC · AUROC { $auroc }
thr-pr-title = Precisión-sensibilidad · AP { $ap }

## Label tab: queue
label-queue = Cola
label-captured = Capturada
label-predicted = Predicción
label-no-item = sin pieza
label-any-time = cualquier fecha
label-last-24h = últimas 24 h
label-last-7d = últimos 7 días
label-queue-empty = Nada que etiquetar. Pulse C en En vivo para capturar las piezas de un cuadro; los rechazos y casi rechazos se capturan solos (máximo 30 por minuto).
label-unscored = sin puntaje
label-queue-note = Las más dudosas primero según el modelo { $model } (puntaje más cercano a su umbral { $threshold }).
label-waiting = { $count ->
    [one] { $count } muestra en espera
   *[other] { $count } muestras en espera
}

## Label tab: import and export
files-images = imágenes
files-heading = Importar y exportar
files-import-files = Importar archivos…
files-import-folder = Importar carpeta…
files-import-folder-tip = Una carpeta de imágenes; un árbol estilo MVTec (train/good, test/<clase>) o una exportación conserva sus etiquetas
files-export = Exportar conjunto etiquetado…
starting = iniciando
files-drop = O suelte imágenes o carpetas sobre la ventana.
files-import-title = Importar imágenes
files-import-folder-title = Importar una carpeta de imágenes (un árbol estilo MVTec conserva sus etiquetas)
files-export-title = Exportar el conjunto etiquetado (una carpeta vacía)

## Label tab: sample and classes
label-no-sample = Ninguna muestra seleccionada
label-mask = Máscara (M)
label-mask-tip = Pinte la zona del defecto: arrastre para pintar, clic derecho y arrastre para borrar
label-brush = pincel px
label-clear-mask = Borrar máscara
label-undo = Deshacer (Z)
label-keys = 0–9 etiquetar · Arriba/Abajo mover · Z deshacer · M máscara
label-no-lot = sin lote
label-counts = Conteo de etiquetas
label-no-labels = Aún no hay etiquetas.
label-classes = Clases de defecto
label-new-class = clase nueva
label-add = Agregar
label-remove-class = Quitar esta clase
label-good-button = 0  conforme
label-sample = Muestra #{ $id }
label-score = puntaje { $score } (umbral { $threshold })

## Train tab
train-live-model = Modelo en línea
train-heading = Reentrenar con muestras etiquetadas
train-start = Entrenar modelo nuevo
train-start-tip = Corre en segundo plano; la línea sigue funcionando
train-cancel = Cancelar entrenamiento
train-no-metrics = sin métricas
train-frame-stats = mediana { $median } ms, p95 { $p95 } ms, máx. { $max } ms
train-labelled = { $total } muestras etiquetadas ({ $good } conformes, { $defective } defectuosas). El detector de anomalías aprende el producto conforme; con tres o más muestras en dos clases también se entrena un clasificador de grado.
train-done = Entrenado { $version } en { $seconds } s: { $metrics }. Promuévalo abajo para ponerlo en línea.
train-skipped = { $count ->
    [one] { $count } muestra omitida (sin pieza o ilegible)
   *[other] { $count } muestras omitidas (sin pieza o ilegibles)
}
train-frame-time = Tiempo de cuadro mientras corría ({ $frames } cuadros): cuadro completo { $whole }; de ello nuestro código de UI { $ui }
train-progress = { $stage } { $done }/{ $total } · { $seconds } s{ $eta }
train-eta =  · faltan unos { $seconds } s en este paso
metric-good-defective = { $good } conformes / { $defective } defectuosas
metric-recall = sensibilidad { $value }
metric-false-rejects = falsos rechazos { $value }
metric-auroc = AUROC { $value }
stage-gathering = reuniendo muestras etiquetadas
stage-measuring = midiendo piezas
stage-evaluating = validación cruzada
stage-fitting = ajustando el detector de anomalías
stage-tier = eligiendo el nivel del detector
stage-classifier = ajustando el clasificador de grado
stage-saving = guardando la versión del modelo

## Train tab: model versions
train-versions = Versiones del modelo
train-rollback = Volver atrás
train-no-earlier = No hay versión anterior en línea
train-col-compare = comparar
train-col-version = versión
train-col-trained = entrenado
train-col-kind = tipo
train-kind-anomaly = anomalías
train-col-metrics = métricas
train-tick-two = Marque dos versiones para compararlas lado a lado.
train-comparison = Comparación
train-col-metric = métrica
train-rollback-tip = Volver a poner { $version } en línea
train-publish = Publicar en la planta…
train-publish-recipe = Receta
train-publish-tip = Enviar { $version } a las estaciones de la planta con la receta { $recipe }; cambian a ella entre dos cuadros. Vuelve a firmar.
train-publish-no-plant = Configure Kafka de planta (En vivo, Salidas a línea) para publicar en la planta
train-publish-no-version = Solo una versión aprobada en esta PC puede ir a la planta: apruebe una primero
train-publish-no-recipe = No hay recetas aquí: cree una en el editor de recetas (En vivo, Recetas…)
train-publish-record = modelo { $version } para las estaciones de la planta con la receta { $recipe }
train-db-error = ⚠ Base de datos: { $error }
train-no-versions = Aún no hay versiones entrenadas: el modelo en línea es { $version } (incluido).
train-live-version = ▶ { $version } (en línea)
train-decisions = { $version }: decisiones

## Desk worker messages (status lines of the window)

desk-line-outputs-set = Salidas a línea configuradas ({ $n } direcciones); la estación se reinicia con ellas
desk-recipe-saved = Receta { $recipe } guardada por { $by }
desk-recipe-choose-file = Eligiendo el archivo…
desk-recipe-read = Receta { $recipe } leída de { $path }: revísela y guárdela aquí
desk-recipe-no-file = No se eligió ningún archivo
desk-plant-lot-no-plant = primero abra la base de datos de planta en la pestaña Reportes
desk-plant-lot-sent = lote { $code }: { $status } firmado por { $actor }; la orden { $command } va a las estaciones por el Kafka de la planta
desk-lot-set = Lote { $code } pasado a { $status } por { $actor }
desk-csv-progress = CSV: { $rows } filas escritas
desk-csv-done = { $rows ->
    [one] Se escribió { $rows } fila en { $path }
   *[other] Se escribieron { $rows } filas en { $path }
}
desk-pdf-done = Se escribió { $path } ({ $kb } kB)
desk-export-cancelled = Exportación cancelada (no se eligió archivo; sin diálogo de archivos use la exportación rápida)
desk-scores-loaded = Cargado { $source }.
desk-thresholds-applied = Aplicado como ajuste #{ $id }: la línea juzga con él desde el siguiente cuadro.
desk-not-applied = No aplicado: { $error }
desk-previews-scored = { $count } imágenes de vista previa puntuadas.
desk-trained = entrenado { $version }
desk-training-running = ya hay un entrenamiento en curso

## Command line: help texts (ids follow the command tree: cli-<command>-<argument>; see
## src/cli/help.rs) and messages

cli-default = por defecto: { $value }
cli-usage-options = [OPCIONES]
cli-usage-command = [COMANDO]
cli-usage-command-required = <COMANDO>
cli-err-unknown-argument = argumento inesperado { $arg }
cli-err-unknown-command = comando desconocido { $command }
cli-err-invalid-value = valor no válido { $value } para { $arg }; valores posibles: { $valid }
cli-err-value-validation = valor no válido { $value } para { $arg }: { $reason }
cli-err-missing-argument = falta un argumento obligatorio: { $arg }
cli-err-more-help = Para más información, pruebe --help.
cli-heading-usage = Uso
cli-heading-options = Opciones
cli-heading-commands = Comandos
cli-help-flag = Mostrar ayuda
cli-version-flag = Mostrar versión
cli-error = error: { $error }
cli-about = foodqc: estación de inspección para líneas de alimentos. Sin subcomando se abre la ventana de la estación (la cámara 0 si hay una conectada; si no, la línea sintética incorporada). Los subcomandos corren el mismo código de estación sin ventana.
cli-data-dir = Dónde están la base de datos, las muestras, los modelos y los registros [por defecto: la carpeta de datos del usuario, ~/.local/share/foodqc en Linux].
cli-model = Archivo de modelo con el que juzgar [por defecto: el modelo incluido].
cli-source = Fuente de cuadros para la ventana: camera:N, folder:RUTA o synthetic[:SEMILLA] [por defecto: camera:0 si hay cámara; si no, synthetic]; repítalo para ver varias cámaras en una cuadrícula.
cli-lang = Idioma de la ventana, mensajes, ayuda y reportes: en o es [por defecto: según la configuración regional, LC_ALL / LC_MESSAGES / LANG; en la ventana, el último idioma elegido allí].
cli-inspect-about = Correr la estación sin ventana sobre una fuente y registrar cada inspección en la base de datos.
cli-train-about = Entrenar un modelo de anomalías con las piezas buenas de una fuente (p. ej. una carpeta de fotos de producto conforme, o la línea sintética) y guardarlo con su ficha.
cli-demo-samples-about = Capturar recortes de piezas de la línea sintética como muestras, etiquetadas con su verdad (o no, con --unlabelled): para probar el etiquetado y el reentrenamiento sin cámara.
cli-eval-about = Entrenar con las imágenes buenas de un conjunto y evaluar con sus imágenes de prueba: AUROC de imagen y de píxel, precisión/sensibilidad/F1, matriz de confusión, umbral, tiempos.
cli-snapshot-about = Inspeccionar algunos cuadros y guardarlos con sus superposiciones como PNG.
cli-import-about = Importar imágenes del disco como muestras para etiquetar: archivos, carpetas, árboles estilo MVTec y carpetas escritas por `foodqc export`.
cli-export-about = Exportar las muestras etiquetadas como carpeta estilo MVTec con labels.csv.
cli-report-recipe = Solo las piezas juzgadas con esta receta.
cli-report-about = Reporte de calidad desde la base de datos: totales, gráfico p por lote u hora (con las reglas de Western Electric), Pareto de defectos, deriva de puntaje; opcionalmente en PDF y/o CSV.
cli-bench-about = Medir el tiempo de cada etapa del proceso con bytes JPEG en memoria e imprimir la mediana y el p95 por etapa.
cli-alarms-about = Horas simuladas de producción con el inspector real y las reglas de alarma del reporte (reglas de rachas del gráfico p, deriva del puntaje): cuántas veces saltan en una línea estable y qué tan pronto se detecta una lámpara que pierde luz.
cli-soak-about = Correr la estación en vivo sobre la línea sintética N minutos, grabando, y medir memoria, filas y cola de grabación; imprime la pendiente de memoria y las filas perdidas.
cli-backup-about = Escribir una copia consistente de la base de datos (la estación puede seguir grabando); también se guarda una copia diaria en la carpeta de respaldos (las últimas 7).
cli-restore-about = Reemplazar la base de datos por un respaldo (se verifica antes; la base reemplazada queda al lado).
cli-report-from = Desde este momento, en hora de planta (America/Lima, o $FOODQC_TZ): 2026-11-20, "2026-11-20 08:00" o RFC 3339 con desfase.
cli-report-to = Hasta este momento, en hora de planta (sin incluirlo).
cli-report-lot = Código de lote.
cli-report-station = Nombre de la estación.
cli-report-line = Línea de producción.
cli-report-product = Producto.
cli-report-shift = Turno.
cli-report-verdict = Veredicto: pass, reject o review.
cli-report-defect = Clase de defecto (`unclassified` para rechazos sin clase).
cli-report-model-version = Versión del modelo.
cli-report-by = Subgrupos del gráfico p: lot, hour, shift o station.
cli-report-pdf = Escribir aquí el reporte en PDF.
cli-report-csv = Escribir aquí las inspecciones filtradas en CSV (columnas con nombres en inglés).
cli-report-json = Imprimir el reporte en JSON.
cli-report-hold = Retener este lote antes del reporte (requiere --comment; queda en el registro de auditoría).
cli-report-release = Liberar este lote antes del reporte (requiere --comment; queda en el registro de auditoría).
cli-report-comment = Por qué se retiene o libera el lote.
cli-report-user = Quién retiene o libera el lote: un jefe de calidad, que firma la decisión (contraseña de FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE o la terminal). También el autor del PDF [por defecto: el usuario del sistema].
cli-report-kafka = Con --plant y --hold o --release: los brokers de la planta, HOST:PUERTO[,HOST:PUERTO].
cli-report-plant-needs-kafka = una decisión de lote desde la vista de planta llega a las estaciones por el Kafka de la planta: agregue --kafka HOST:PUERTO
cli-report-plant-lot-sent = lote { $code }: { $status } enviado a las estaciones (por { $actor }; orden { $command }; { $pending } mensajes aún en espera)
cli-report-plant = Reporte sobre la base de datos de planta (todas las estaciones, como las guardó el colector) en vez de la de esta estación: postgres://USUARIO[:CLAVE]@HOST:PUERTO/BD. Con --hold o --release la decisión va a todas las estaciones que tienen el lote (requiere --kafka).

# Options of the other commands; `cli-arg-<arg>` serves the source options several share.
cli-inspect-frames = Detener tras N cuadros (una carpeta se detiene al terminar de todos modos).
cli-inspect-lot = Código de lote con que se registra.
cli-inspect-product = Producto del lote.
cli-inspect-line = Línea de producción.
cli-inspect-shift = Turno.
cli-inspect-station = Nombre de la estación (una por PC / cámara de línea).
cli-inspect-live = Ir al ritmo de la fuente (FPS) y descartar cuadros cuando se atrasa, como en una línea en vivo (por defecto: inspeccionar cada cuadro lo más rápido posible).
cli-inspect-loop-folder = Volver a reproducir la carpeta desde el inicio al terminar (requiere --frames para detenerse).
cli-inspect-json = Imprimir el resumen como JSON.
cli-train-frames = Cuadros de los que se toman piezas conformes (con --out).
cli-train-stride = Mirar solo uno de cada N cuadros (en una faja transportadora una pieza queda a la vista durante muchos cuadros).
cli-train-out = Entrenar con las piezas conformes de --source y escribir el modelo en FILE. Sin --out, entrenar con las muestras etiquetadas de la carpeta de datos y registrar ahí una versión nueva del modelo.
cli-train-eval-frames = Comprobar también el modelo contra la verdad conocida en esta cantidad de cuadros de synthetic:SEED+1000 (con --out y una fuente sintética).
cli-train-propose = Proponer la versión nueva para la línea con este motivo (una firma con significado "realizado"); la aprueba un jefe de calidad con `foodqc model approve`. Solo al entrenar con muestras etiquetadas.
cli-train-user = Quién entrena: un científico de datos con sesión iniciada (solo con muestras etiquetadas; contraseña de FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE o la terminal).
cli-train-tier = Nivel del detector: classical (rasgos hechos a mano), deep (parches de una red preentrenada) o auto (ambos ajustados con la mitad de las piezas conformes; se queda el que mejor encuentra defectos sintéticos hechos sobre la otra mitad, y el más rápido si empatan). La elección figura en la ficha del modelo.
cli-demo-samples-count = Muestras a capturar.
cli-demo-samples-seed = Semilla de la línea sintética.
cli-demo-samples-unlabelled = Dejar las muestras sin etiquetar (para la cola de etiquetado).
cli-demo-samples-user = Quién las captura (y etiqueta): un técnico o científico de datos con sesión iniciada (un operario con --unlabelled).
cli-eval-dataset = Carpeta del conjunto de datos (árbol estilo MVTec).
cli-eval-json = Imprimir el reporte como un objeto JSON.
cli-eval-tier = Nivel del detector: classical (rasgos hechos a mano), deep (parches de una red preentrenada) o auto (se evalúan ambos; se elige con defectos sintéticos sobre las imágenes de entrenamiento).
cli-eval-out = Dónde guardar el modelo entrenado; su evaluación se escribe al lado como `<nombre>_metrics.json` y `<nombre>_metrics.txt` [por defecto: DATA_DIR/models/<dataset>.json].
cli-eval-previews = Escribir en esta carpeta imágenes lado a lado (foto | puntajes por píxel | máscara real) de las imágenes de prueba que tienen máscara.
cli-eval-threshold-report = Imprimir también los puntos de operación sobre los puntajes de prueba: el umbral del modelo, el F1 máximo, la meta de escapes y la meta de falsos rechazos (confusión, precisión, sensibilidad, F1).
cli-eval-target-escape = Meta de tasa de escapes para --threshold-report (proporción de piezas defectuosas que pasan).
cli-eval-target-false-reject = Meta de falsos rechazos para --threshold-report (proporción de piezas conformes rechazadas).
cli-eval-require = Fallar (código de salida distinto de cero) cuando una medida no cumple su límite, p. ej. `--require image-auroc=0.995`. Mínimos: image-auroc, pixel-auroc, pixel-auroc-item, grade-macro-f1, good-vs-rotten-accuracy. Máximos, en el umbral propio del modelo: escape-rate, false-reject-rate. Repita la opción para varios.
cli-snapshot-frames = Cuadros a guardar.
cli-snapshot-skip = Saltar primero esta cantidad de cuadros.
cli-snapshot-out = Carpeta donde escribir `frame-<seq>.png`.
cli-snapshot-heat = Dibujar también el mapa de calor.
cli-import-paths = Archivos de imagen y carpetas a importar.
cli-import-user = Quién importa (un operario, técnico o científico de datos con sesión iniciada; queda con las muestras y en la auditoría).
cli-import-json = Imprimir el reporte como un objeto JSON.
cli-export-out = Carpeta a escribir (se crea si no existe; debe estar vacía salvo con --overwrite).
cli-export-overwrite = Escribir en una carpeta no vacía: reemplazar los archivos del mismo nombre y quitar los de una exportación anterior que esta no vuelve a escribir.
cli-export-json = Imprimir el reporte como un objeto JSON.
cli-bench-dataset = Conjunto de datos estilo MVTec: se miden sus fotos de prueba y se entrena con su train/good.
cli-bench-threads = Hilos a usar (1 = la cifra de un solo núcleo).
cli-bench-runs = Corridas medidas por carga (las entradas se repiten, tras una pasada de calentamiento sin medir).
cli-bench-train-runs = Veces que se repite el entrenamiento con el conjunto de datos (se informa la mediana).
cli-bench-labelled = Medir también el entrenamiento con esta cantidad de muestras etiquetadas de la línea sintética (capturadas antes en una base de datos temporal; 0 = omitir).
cli-bench-json = Imprimir el reporte como un objeto JSON.
cli-bench-line = En cambio: correr la línea sintética en vivo (30 FPS) tantos segundos con `line-sim` como PLC y medir captura -> confirmación por salida (mediana, p99).
cli-bench-mqtt = Con --line: publicar también en este bróker MQTT (mqtt://HOST:PUERTO[/PREFIJO]).
cli-bench-bad-line-seconds = --line acepta de 1 a 3600 segundos, no { $seconds }
cli-bench-line-summary = línea sintética en vivo por { $seconds } s: { $frames } cuadros ({ $dropped } descartados), { $items } piezas, { $rejects } rechazos
cli-bench-line-ejector = expulsor simulado: { $read } piezas leídas, { $fired } disparos, { $late } tardíos, { $missed } perdidos
cli-bench-line-output = { $output }: { $sent } enviadas, { $acked } confirmadas, { $late } tardías, { $missed } perdidas; captura -> confirmación { $capture }; escritura -> confirmación { $round_trip }
cli-bench-line-not-exact = el expulsor simulado no disparó exactamente los rechazos (ver arriba)
cli-bench-cameras = En cambio: correr tantas cámaras sintéticas de 1280x720 a 30 FPS a la vez, cada una su propia estación que registra cada pieza, y medir cuadros perdidos y captura -> veredicto por cámara.
cli-bench-seconds = Con --cameras: cuánto tiempo corren las líneas, en segundos.
cli-bench-bad-cameras = --cameras acepta de 1 a 64, no { $cameras }
cli-bench-cameras-summary = { $cameras } cámaras por { $seconds } s: { $dropped } cuadros descartados, peor captura -> veredicto p99 { $p99 } ms, CPU { $cpu } % de un núcleo; { $items } piezas juzgadas, { $rows } filas registradas
cli-bench-cameras-camera =   { $station }: { $frames } cuadros, { $dropped } descartados, { $items } piezas; captura -> veredicto mediana { $median } ms, p99 { $p99 } ms
cli-bench-plant = En cambio: enviar esta cantidad de mensajes de inspección a --kafka, recogerlos en la base de datos de planta vacía --postgres y medir las filas por segundo del colector.
cli-bench-kafka = Con --plant: los brokers, HOST:PUERTO[,HOST:PUERTO].
cli-bench-postgres = Con --plant: una base de datos de planta de prueba, postgres://USUARIO@HOST:PUERTO/BD (no debe tener inspecciones).
cli-bench-plant-summary = colector de planta: { $messages } mensajes producidos en { $produce } s; { $read } leídos, { $stored } filas guardadas en { $collect } s = { $rate } filas/s, suficiente para { $stations } estaciones a 30 piezas/s
bench-plant-producing = produciendo { $messages } mensajes de inspección
bench-plant-collecting = recogiéndolos en PostgreSQL
cli-bench-tier = Nivel con que se juzgan las fotos del conjunto de datos: classical o deep (los cuadros sintéticos usan siempre el modelo clásico incorporado).
cli-alarms-hours = Horas simuladas de producción.
cli-alarms-items-per-hour = Piezas registradas por hora simulada.
cli-alarms-seed = Semilla de la línea sintética.
cli-alarms-dim-at = Bajar la luz de la lámpara desde esta hora simulada (una deriva de iluminación por detectar).
cli-alarms-exposure = Exposición después de bajar la luz (1.0 nominal).
cli-alarms-resamples = Reportes remuestreados de las horas estables para medir las tasas de falsas alarmas.
cli-alarms-json = Mostrar el reporte como JSON.
cli-alarms-bad-hours = --hours = { $hours } está fuera de rango: de 1 a 744
cli-alarms-bad-items = --items-per-hour = { $items } está fuera de rango: de 30 a 100000
cli-alarms-bad-dim-at = --dim-at = { $hour } está fuera de rango: de 0 hasta --hours ({ $hours })
cli-alarms-bad-exposure = --exposure = { $exposure } está fuera de rango: de 0.05 a 4
cli-alarms-progress = { $done } de { $total } piezas juzgadas
cli-soak-minutes = Cuánto tiempo corre la línea, en minutos.
cli-soak-fps = Cuadros por segundo de la línea sintética.
cli-soak-every = Segundos entre dos mediciones.
cli-soak-json = Imprimir el reporte (con cada medición) como JSON.
cli-backup-out = La copia a escribir (se reemplaza si existe; nunca la base de datos ni sus propios archivos).
cli-restore-file = Una copia escrita por `foodqc backup` o una copia diaria (`<carpeta de datos>/backups/`).
cli-arg-source = camera:N, folder:PATH o synthetic[:SEMILLA].
cli-arg-width = Ancho del cuadro para cámaras y la línea sintética.
cli-arg-height = Alto del cuadro para cámaras y la línea sintética.
cli-arg-fps = Cuadros por segundo (ritmo con --live, pedido a la cámara).

## Command line: foodqc report

cli-report-bad-by = --by { $by }: use lot, hour, shift o station
cli-report-wrote-csv = { $rows ->
    [one] se escribió { $rows } fila en { $path } en { $seconds } s
   *[other] se escribieron { $rows } filas en { $path } en { $seconds } s
}
cli-report-wrote-pdf = se escribió { $path } ({ $bytes } bytes) en { $seconds } s
cli-report-generated = se generaron { $rows } inspecciones en { $lots } lotes en { $seconds } s (lote malo { $bad }, lote con deriva { $drifting })
cli-report-no-lot = el lote { $code } no está en { $db }
cli-report-need-comment = --comment debe decir por qué se retiene o libera el lote { $code }
cli-report-lot-now = el lote { $code } ahora está { $status } (por { $actor })
cli-report-title = reporte foodqc: { $filter }
cli-report-label-items = piezas
cli-report-items = { $items } inspeccionadas, { $rejects } rechazadas ({ $rate }), { $reviews } por revisar
cli-report-label-pchart = gráfico p
cli-report-pchart = { $points ->
    [one] { $points } { $group ->
        [lot] lote
        [hour] hora
        [shift] turno
       *[other] estación
    }
   *[other] { $points } { $group ->
        [lot] lotes
        [hour] horas
        [shift] turnos
       *[other] estaciones
    }
}, central { $centre }
cli-report-label-ooc = FUERA DE CONTROL
cli-report-ooc = { $label } { $rate } (LSC { $ucl }), reglas { $rules }
cli-report-label-pareto = pareto
cli-report-label-drift = deriva
cli-report-drift = { $drifting } de { $hours } horas se desvían de la distribución del entrenamiento
cli-report-label-held = lotes retenidos
cli-report-label-times = tiempos de consulta
cli-report-none = ninguno

## PDF report

pdf-summary = Resumen
pdf-generated = Generado el { $when } ({ $zone }) por { $author } con foodqc
pdf-author-unknown = un usuario sin nombre (sin --user ni USER en el entorno)
pdf-filter = Filtro: { $filter }
pdf-sent-to-review = Enviadas a revisión
pdf-period = Periodo
pdf-no-inspections = sin inspecciones
pdf-out-of-control = Fuera de control ({ $group ->
    [lot] lotes
    [hour] horas
    [shift] turnos
   *[other] estaciones
})
pdf-score-drift = Deriva de puntaje
pdf-no-drift = ninguna hora se desvía de la distribución del entrenamiento
pdf-drift-warning = { $hours ->
    [one] AVISO: { $hours } hora se desvía de la distribución del entrenamiento
   *[other] AVISO: { $hours } horas se desvían de la distribución del entrenamiento
}
pdf-by-group = Por { $group }
pdf-more-groups = ... { $count } más en la exportación CSV
pdf-pchart-title = Gráfico p: proporción de rechazo por { $group } (central { $centre }, límites de 3 sigma según el tamaño del subgrupo)
pdf-no-inspections-match = ninguna inspección cumple el filtro
pdf-pchart-legend = azul: proporción de rechazo; gris: línea central; rojo a trazos: límites de control; cuadrados rojos grandes: fuera de control (reglas 1-4 de Western Electric)
pdf-pareto-title = Pareto de clases de defecto (piezas rechazadas) con porcentaje acumulado
pdf-no-rejects-match = ningún rechazo cumple el filtro
pdf-pareto-legend = ámbar: acumulado (arriba = 100 %)
pdf-drift-title = Deriva: puntaje medio de anomalía de las piezas conformes por hora (gris: percentil 95 de las piezas buenas del entrenamiento)
pdf-no-passed-match = ninguna pieza conforme cumple el filtro
pdf-sample-images = Imágenes de muestra de defectos
pdf-no-crops = no hay recortes guardados de piezas rechazadas en este reporte
pdf-col-product = producto
pdf-col-disposition = disposición
pdf-col-by = por
pdf-col-when = cuándo
pdf-col-comment = comentario
pdf-more-lots = ... { $count } lotes más
pdf-approval = Disposición decidida por Calidad. Revisado y aprobado:
pdf-name = Nombre
pdf-date = Fecha
pdf-signature = Firma
thr-source-production = últimas { $count } piezas de producción ({ $labelled } etiquetadas)

## Command line: output of the other commands (labels are padded to 16 characters by the code)
cli-label-model = modelo
cli-label-lot = lote
cli-label-frames = cuadros
cli-label-items = piezas
cli-label-unscored = sin puntaje
cli-label-recorded = grabadas
cli-label-journal = diario
cli-label-crops-missing = recortes perdidos
cli-label-stopped = detenido
cli-label-speed = velocidad
cli-label-database = base de datos
cli-database = base de datos { $path }
cli-progress-files = archivos
cli-inspect-title = foodqc inspect: { $source }
cli-inspect-frames-line = { $inspected } inspeccionados, { $dropped } perdidos, { $skipped } archivos omitidos
cli-inspect-items-line = { $items } juzgadas, { $rejects } rechazadas ({ $rate })
cli-inspect-unscored = { $n } piezas no se pudieron puntuar (se rechazan, nunca pasan): revise el modelo
cli-inspect-recorded = { $recorded ->
    [one] { $recorded } fila
   *[other] { $recorded } filas
} en la base de datos, { $journaled } al diario pendiente
cli-inspect-journal = { $n ->
    [one] { $n } fila espera
   *[other] { $n } filas esperan
} en { $path } (se cargan cuando la base de datos vuelva a aceptar escrituras)
cli-inspect-crops-missing = { $n ->
    [one] { $n } recorte no se pudo guardar (su fila dice por qué)
   *[other] { $n } recortes no se pudieron guardar (sus filas dicen por qué)
}
cli-inspect-by-signal = por una señal (SIGTERM/SIGINT)
cli-inspect-nothing = nada inspeccionado en { $seconds } s
cli-inspect-speed = { $fps } cuadros/s en { $seconds } s; inspección { $median } ms mediana, { $p95 } ms p95
cli-inspect-loop-needs-frames = --loop repite sin fin: indique --frames N para detenerse
cli-inspect-no-frame = no se pudo inspeccionar ningún cuadro de { $source }
cli-backup-done = copia de { $db } ({ $rows } inspecciones) escrita en { $out }
cli-restore-done = { $db } restaurada desde { $file } ({ $rows } inspecciones)
cli-restore-kept = la base de datos reemplazada se guarda en { $path }
cli-demo-samples-done = { $n } muestras capturadas en { $dir } ({ $how })
cli-demo-samples-unlabelled-note = sin etiquetar
cli-demo-samples-labelled-note = etiquetadas según la verdad de la línea sintética
cli-import-progress = importando
cli-import-all-failed = no se pudo importar ningún archivo ({ $n } archivos)
cli-import-none-found = no hay imágenes PNG ni JPEG en las rutas indicadas
cli-export-progress = exportando
cli-export-nothing = la base de datos { $db } no tiene muestras etiquetadas; nada que exportar
cli-export-none-exported = no se pudo exportar ninguna muestra etiquetada
cli-label-file = archivo
cli-progress-frames = cuadros
cli-train-proposed = { $version } propuesto para la línea: lo aprueba un jefe de calidad (foodqc model approve { $version } --user NOMBRE --reason TEXTO)
cli-train-not-proposed = no propuesto: proponga { $version } con foodqc model propose, o en la pestaña Entrenar
cli-train-trained = modelo { $version } entrenado en { $seconds } s con { $db }
cli-train-skipped = omitido { $path }: { $why }
cli-train-measuring = midiendo piezas conformes
cli-train-good-items = { $n } piezas conformes de { $source }
cli-train-choosing-tier = eligiendo el nivel del detector ({ $tier })
cli-train-tier-line = nivel: { $tier }
cli-train-written = modelo { $version } escrito en { $path } (ficha: { $card })
cli-train-truth-check = comprobación contra la verdad en { $source }: { $items } piezas, { $defective } defectuosas; sensibilidad { $recall }, falsos rechazos { $false_rejects }, AUROC { $auroc }
cli-label-memory = memoria
cli-label-recorder-queue = cola de grabación
cli-soak-title = foodqc soak: { $minutes } min a { $fps } cuadros/s
cli-soak-frames = { $captured } capturados, { $inspected } inspeccionados, { $dropped } perdidos
cli-soak-items = { $items } juzgadas, { $rows } filas en la base de datos, { $lost } perdidas
cli-soak-memory = { $warm } MiB tras el calentamiento, { $end } MiB al final, pendiente { $slope } MiB/h
cli-soak-queue = como máximo { $n }
cli-soak-bad-minutes = --minutes = { $minutes } está fuera de rango: más de 0, a lo sumo una semana
cli-soak-bad-every = --every = { $every } está fuera de rango: al menos 0,1 segundos
cli-soak-rows-lost = { $n } piezas juzgadas no están en la base de datos
cli-progress-images = imágenes
cli-eval-saved = modelo guardado en { $model } (métricas: { $metrics }, puntajes de prueba: { $scores })
cli-eval-bad-share = { $name } debe ser una proporción entre 0 y 1, no { $value }
cli-eval-gates-missed = { $missed } de { $total } criterios de calidad no se cumplen en { $dataset }: { $list }
cli-eval-gates-met = se cumplen los { $n } criterios de calidad
cli-snapshot-line = { $path } { $items } piezas [{ $scores }] { $total } ms (segmentar { $segment } ms)

## Train tab: the live model's card
card-created = creado
card-trained-on = entrenado con
card-good-items = piezas conformes
card-items-patches = { $items } piezas, { $patches } parches
card-training-time = tiempo de entrenamiento
card-seconds = { $seconds } s
card-resolution = resolución
card-full-resolution = completa (cuadros inspeccionados tal como se capturan)
card-binned = cuadros reducidos { $factor }×{ $factor } antes de inspeccionar
card-tier = detector
card-tier-classical = clásico (rasgos hechos a mano)
card-tier-deep = profundo (red preentrenada)
card-reject-threshold = umbral de rechazo
card-pixel-threshold = umbral de celda del mapa de calor
card-threshold-note = Puntaje = el mayor entre la parte de la pieza y la peor parte de parche; 1,0 = el percentil 95 de las piezas conformes reservadas.
card-metrics = Métricas
card-features = Rasgos
card-feature-set = conjunto de rasgos { $name }
card-item-features = rasgos de pieza:
card-patch-features = rasgos de parche:
card-notes = Notas (tal como se escribieron al entrenar)
metric-name-good-samples = muestras conformes
metric-name-defect-samples = muestras defectuosas
metric-name-recall = sensibilidad
metric-name-threshold = umbral de rechazo
metric-name-cv-auroc = AUROC (validación cruzada)
metric-name-cv-false-reject-rate = tasa de falsos rechazos (validación cruzada)
metric-name-cv-good-passed = conformes que pasan (validación cruzada)
metric-name-cv-good-rejected = conformes rechazadas (validación cruzada)
metric-name-defects-passed = defectuosas que pasan
metric-name-defects-rejected = defectuosas rechazadas
metric-name-heldout-false-reject-rate = tasa de falsos rechazos (conformes reservadas)
metric-name-training-seconds = tiempo de entrenamiento (s)
metric-name-eval-items = piezas evaluadas
metric-name-eval-defective = piezas defectuosas evaluadas
metric-name-eval-recall = sensibilidad (evaluación)
metric-name-eval-precision = precisión (evaluación)
metric-name-eval-false-reject-rate = tasa de falsos rechazos (evaluación)
metric-name-eval-auroc = AUROC (evaluación)
metric-name-classifier-classes = clases del clasificador
metric-name-classifier-cv-score = acierto del clasificador (validación cruzada)

## Usuarios, roles e inicio de sesión (services/auth.rs, cli/user.rs)
auth-permission-denied = { $user } ({ $role }) no puede { $permission }; roles que sí pueden: { $roles }
auth-bad-credentials = usuario o contraseña incorrectos para { $user }
auth-locked = el usuario { $user } está bloqueado por demasiadas contraseñas incorrectas; intente de nuevo en { $minutes } min o pida a un administrador una nueva contraseña
auth-disabled = el usuario { $user } está desactivado; consulte con un administrador
auth-name-length = el nombre de usuario { $name } no es válido: debe tener de 1 a { $max } caracteres
auth-name-chars = el nombre de usuario { $name } no es válido: use minúsculas a-z, dígitos, '.', '_' y '-', empezando por una letra o un dígito (p. ej. qc.anna, linea-1)
auth-display-name = el nombre visible { $value } no es válido: debe tener de 1 a 128 caracteres
auth-password-short = la contraseña de { $user } es muy corta: al menos { $min } caracteres
auth-password-long = la contraseña de { $user } es muy larga: a lo sumo { $max } caracteres
auth-password-name = la contraseña de { $user } no debe contener el nombre de usuario
auth-password-one-class = la contraseña de { $user } debe combinar al menos dos tipos de caracteres (minúsculas, mayúsculas, dígitos, otros)
auth-first-user-admin = el primer usuario de una estación debe ser administrador (no una cuenta de servicio): todavía no se puede crear { $user }; use --role admin
auth-sign-in-needed = ya hay usuarios: inicie sesión como administrador con --user NOMBRE (la contraseña de FOODQC_ACTOR_PASSWORD o de la consulta en pantalla)
auth-service-admin = la cuenta de servicio { $user } no puede ser administrador: una estación sin pantalla no administra usuarios
auth-disable-self = { $user } no puede desactivar su propia cuenta
auth-no-such-user = no existe el usuario { $user }
auth-secret-file = no se puede leer el archivo de contraseña { $path }: { $error }
auth-hash = hash de la contraseña de { $user }: { $error }
cli-user-about = Administrar los usuarios de la estación: agregar, listar, desactivar, cambiar la contraseña. Las contraseñas vienen de la consulta en pantalla, de FOODQC_PASSWORD o de --password-file, nunca de la línea de comandos.
cli-user-user = Administrador que inicia sesión para hacer el cambio (contraseña de FOODQC_ACTOR_PASSWORD o de la consulta); no hace falta para el primer usuario.
cli-user-add-about = Agregar un usuario. El primer usuario de una estación debe ser administrador y no necesita iniciar sesión.
cli-user-add-name = Nombre de usuario: minúsculas, dígitos, '.', '_', '-' (p. ej. qc.anna).
cli-user-add-role = Rol: operator, technician, data_scientist, qc_manager o admin.
cli-user-add-display-name = Nombre como lo leen las personas [por defecto: el nombre de usuario].
cli-user-add-service = Cuenta de servicio para una estación sin pantalla (su contraseña de un archivo o de FOODQC_PASSWORD).
cli-user-add-password-file = Leer la nueva contraseña de la primera línea de este archivo (si no, de FOODQC_PASSWORD; si no, se pregunta).
cli-user-list-about = Listar los usuarios (nunca el hash de sus contraseñas).
cli-user-list-json = Mostrar la lista como JSON.
cli-user-disable-about = Desactivar un usuario: ya no puede iniciar sesión; sus registros conservan su nombre.
cli-user-disable-name = El usuario a desactivar.
cli-user-passwd-about = Poner una nueva contraseña a un usuario (quita un bloqueo).
cli-user-passwd-name = El usuario cuya contraseña se cambia.
cli-user-passwd-password-file = Leer la nueva contraseña de la primera línea de este archivo (si no, de FOODQC_PASSWORD; si no, se pregunta).
cli-user-role-unknown = rol desconocido { $value }: use uno de { $roles }
cli-user-password-prompt = Nueva contraseña para { $user }:
cli-user-password-again = Repita la nueva contraseña:
cli-user-password-mismatch = las dos contraseñas de { $user } no coinciden; no se cambió nada
cli-user-no-password = no hay contraseña para { $user }: defina FOODQC_PASSWORD, use --password-file ARCHIVO o ejecute en una terminal para que se le pregunte
cli-user-actor-prompt = Contraseña de { $user }:
cli-user-no-actor-password = no hay contraseña para { $user }: defina FOODQC_ACTOR_PASSWORD o FOODQC_ACTOR_PASSWORD_FILE, o ejecute en una terminal para que se la pida
cli-user-needed = este comando cambia registros: indique quién lo hace con --user NOMBRE (roles que pueden: { $roles }); la contraseña viene de FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE o se pide en la terminal
cli-user-added = usuario { $user } agregado ({ $role })
cli-user-disabled = usuario { $user } desactivado
cli-user-password-changed = se cambió la contraseña de { $user }
cli-user-none = todavía no hay usuarios: cree el primer administrador con foodqc user add NOMBRE --role admin
cli-user-col-name = usuario
cli-user-col-display-name = nombre visible
cli-user-col-role = rol
cli-user-col-status = estado
cli-user-status-active = activo
cli-user-status-service = activo (servicio)
cli-user-status-disabled = desactivado
cli-user-status-locked = bloqueado
## Command line: foodqc audit (the tamper-evident audit trail)

cli-audit-about = El registro de auditoría a prueba de alteraciones: `verify` recorre las cadenas de hashes del registro de auditoría y de las inspecciones, `list` muestra el registro de auditoría, `export` escribe un extracto que un jefe de calidad firma como revisado.
cli-audit-verify-about = Recorrer las cadenas de hashes del registro de auditoría y de las inspecciones y comparar sus cabezas con las copias guardadas fuera de la base de datos; termina con error indicando la primera entrada o lote roto.
cli-audit-verify-json = Imprimir el resultado en JSON.
cli-audit-list-about = Listar las entradas de auditoría, las más recientes primero.
cli-audit-list-actor = Solo las entradas de este actor.
cli-audit-list-action = Solo esta acción, o las acciones bajo ella (`lot` lista `lot.status`).
cli-audit-list-from = Desde este momento, en hora de planta (America/Lima, o $FOODQC_TZ): 2026-11-20, "2026-11-20 08:00" o RFC 3339 con desfase.
cli-audit-list-to = Hasta este momento, en hora de planta (sin incluirlo).
cli-audit-list-limit = Como máximo esta cantidad de entradas (las más recientes).
cli-audit-list-json = Imprimir las entradas en JSON.
audit-verify-no-key = no hay clave de auditoría en { $path }: sin ella no se pueden verificar las cadenas de hashes (se guarda fuera de la base de datos; FOODQC_AUDIT_KEY_FILE indica otro archivo)
audit-verify-ok = registro de auditoría íntegro: { $entries } entradas de auditoría, { $batches } lotes de inspecciones ({ $rows } inspecciones)
audit-verify-anchor = la cabeza coincide con la copia en { $file }
audit-verify-no-anchor = no se encontró ninguna copia de la cabeza fuera de la base de datos: no se podría detectar un final borrado
audit-verify-broken = registro de auditoría roto ({ $count } problemas); el primero: { $first }
audit-list-empty = ninguna entrada de auditoría coincide
audit-problem-hash = la entrada de auditoría { $id } fue modificada: su contenido ya no coincide con su hash
audit-problem-link = la entrada de auditoría { $id } no enlaza con la anterior: se borró, insertó o reemplazó una entrada antes de ella
audit-problem-missing = faltan las entradas de auditoría { $from } a { $to } (borradas)
audit-problem-unhashed = la entrada de auditoría { $id } no tiene hash: se escribió fuera de foodqc
audit-problem-older = se modificaron las entradas de auditoría escritas antes de que empezara la cadena (en la entrada { $id })
audit-problem-batch-hash = el lote de inspecciones { $id } (inspecciones { $first } a { $last }) ya no coincide con su hash: se cambió un veredicto u otro valor, o se borraron o insertaron filas ({ $now } filas ahora, { $sealed } al sellarlo)
audit-problem-batch-link = el lote de inspecciones { $id } no enlaza con el anterior: se borraron o reemplazaron lotes
audit-problem-unsealed = { $count } inspecciones desde el id { $first } no están en ningún lote: se escribieron fuera de foodqc
audit-problem-tail-audit = el registro de auditoría fue recortado: termina en la entrada { $last }, pero { $anchor } registra la entrada { $anchored } (se borró el final)
audit-problem-tail-batches = las inspecciones fueron recortadas: terminan en el lote { $last }, pero { $anchor } registra el lote { $anchored } (se borró el final)
audit-problem-anchor-audit = la entrada de auditoría { $id } difiere de la registrada en { $anchor }: se borró el final y se volvió a escribir
audit-problem-anchor-batches = el lote de inspecciones { $id } difiere del registrado en { $anchor }: se borró el final y se volvió a escribir

## Firmas electrónicas y promoción
sign-no-reason = una firma para { $action } necesita un motivo
sign-reason-long = el motivo de una firma para { $action } es demasiado largo: máximo { $max } caracteres
promo-already-live = el modelo { $version } ya está en línea
promo-not-proposed = el modelo { $version } no ha sido propuesto: un científico de datos lo propone (con firma) antes de que un jefe de calidad lo apruebe
promo-same-person = { $user } propuso el modelo { $version } y no puede aprobarlo también: aprueba una segunda persona
promo-changed = los archivos del modelo { $version } cambiaron después de la propuesta: propóngalo de nuevo
promo-not-previous = el modelo { $version } no es la versión en línea antes de la actual: solo se puede volver a esa
promo-read-file = no se puede leer { $path }: { $error }
lot-unknown = el lote { $code } no está en la base de datos
plant-model-not-approved = la versión de modelo { $version } no fue aprobada en esta PC con estos archivos: propóngala y apruébela aquí primero (foodqc model propose / approve)
plant-model-no-recipe = indique la receta cuyas estaciones reciben el modelo (--recipe)
plant-model-bad-message = no es una parte de modelo que foodqc pueda leer: { $why }
plant-model-part-unreadable = la parte { $part } del modelo no es base64: { $error }
plant-model-length = las partes del modelo suman { $got } bytes, el envío dice { $expected }
plant-model-hash = la versión de modelo { $version } llegó con archivos distintos a los firmados (el hash del contenido no coincide); rechazada
plant-seal-missing = no lleva firma de una clave de planta (cabeceras foodqc-key y foodqc-signature)
plant-seal-bad = su firma no corresponde al mensaje (clave { $fingerprint }): alterado en el camino o falsificado
plant-seal-untrusted = está firmado con la clave { $fingerprint }, en la que esta estación no confía (foodqc keys trust NOMBRE CLAVE)
plant-model-version-taken = la versión de modelo { $version } ya existe en esta estación con otros archivos ({ $path }); rechazada
plant-model-write-file = no se puede escribir { $path }: { $error }
lot-not-a-decision = lote { $code }: solo retener y liberar son decisiones
shift-bad-date = la fecha { $date } no es un día (escríbala como 2026-11-20)
shift-no-shift = indique el turno a cerrar (por ejemplo A)
shift-empty = el turno { $shift } no tiene inspecciones: no hay nada que revisar
shift-already-closed = el reporte de turno { $shift } ya lo cerró { $who } el { $when } y sus registros no han cambiado desde entonces
pdf-review = Revisión de { $shift }
pdf-review-none = aún sin revisar
pdf-review-signed = { $meaning } por { $name } ({ $user }) el { $when } UTC. Motivo: { $reason }. Contenido { $hash }
pdf-review-changed = Los registros cambiaron después de esta firma: revise de nuevo.
cli-report-closed = reporte de turno { $shift } cerrado: { $meaning } por { $who } el { $when }
cli-report-close-needs-shift = --close-shift necesita --shift (el turno a cerrar) y --comment (el motivo de la revisión)
cli-report-label-review = Revisión
desk-shift-closed = Reporte de turno { $shift } cerrado por { $who }
reports-shift-review = Revisión del turno
reports-shift-review-how = Filtre un turno de un día para cerrarlo: Desde = el día, Hasta = el día siguiente, Turno.
reports-shift-none = { $shift }: aún sin revisar
reports-shift-signed = { $shift }: { $meaning } por { $who } el { $when }
reports-shift-changed = { $shift }: los registros cambiaron después de la revisión; revise de nuevo
reports-close-shift = Cerrar turno…
reports-close-shift-disabled = Primero escriba el comentario de la revisión
reports-sign-shift = reporte de turno { $shift }
desk-sign-in-first = inicie sesión primero (roles que pueden: { $roles })
desk-signed-in = sesión iniciada: { $user } ({ $role })
desk-signed-out = { $user } cerró sesión
desk-idle-locked = sesión de { $user } cerrada por inactividad; inicie sesión de nuevo
desk-proposed = modelo { $version } propuesto por { $user }; lo aprueba un jefe de calidad
desk-live = { $version } está en línea
desk-model-published = { $version } firmado por { $actor } para las estaciones de la receta { $recipe }; { $parts } partes van por el Kafka de la planta

## Sesión: inicio, bloqueo por inactividad, firmas
session-sign-in-to = Inicie sesión primero. Roles que pueden: { $roles }
session-role-may-not = Su rol ({ $role }) no puede hacer esto. Roles que pueden: { $roles }
session-user = { $user } ({ $role })
session-sign-out = Cerrar sesión
session-read-only = Solo lectura
session-sign-in = Iniciar sesión
session-sign-in-open = Iniciar sesión…
session-sign-in-title = Iniciar sesión
session-first-admin-title = Crear el primer administrador
session-first-admin-help = Esta estación aún no tiene usuarios. Cree su administrador; luego el administrador agrega operarios, técnicos, científicos de datos y jefes de calidad.
session-name = Usuario
session-display-name = Nombre completo
session-password = Contraseña
session-password-again = Repita la contraseña
session-create-admin = Crear administrador
session-passwords-differ = Las dos contraseñas no coinciden.
session-sign-title = Firma electrónica
session-sign-record = Registro
session-sign-action = Acción
session-sign-meaning = Significado
session-sign-signer = Firmante
session-sign-reason = Motivo
session-sign-note = Firmar con su contraseña equivale legalmente a su firma manuscrita. Nombre, hora, significado y motivo quedan con el registro.
session-sign-button = Firmar
session-sign-needs = Indique un motivo y su contraseña.
signed-propose-model = proponer el modelo para la línea
signed-approve-model = aprobar el modelo: pasa a la línea
signed-override = aprobar pese a criterios de aceptación no cumplidos
signed-rollback = volver al modelo anterior
signed-publish-model = enviar una versión de modelo a las estaciones de la receta
signed-apply-thresholds = aplicar los umbrales al modelo en línea
signed-hold-lot = retener el lote
signed-release-lot = liberar el lote
signed-close-report = cerrar el reporte de turno
meaning-performed = realizado
meaning-reviewed = revisado
meaning-approved = aprobado
reports-sign-lot = lote { $code }
thr-sign-record = umbrales del modelo { $version }
train-sign-record = modelo { $version }
train-propose = Proponer…
train-propose-tip = Proponer esta versión para la línea (con su firma); la aprueba un jefe de calidad
train-approve = Aprobar…
train-approve-own = Usted propuso esta versión: la aprueba una segunda persona
train-proposed-by = Propuesto por { $user } el { $when }: { $reason }
cli-model-about = Versiones de modelo en la línea: un científico de datos propone, un jefe de calidad aprueba (dos firmas), volver atrás, listar; `compare` compara un candidato con el modelo en línea en las muestras etiquetadas con las que ninguno entrenó (termina con código 3 si los criterios de aceptación lo bloquean), `criteria` muestra o fija los criterios de aceptación (jefe de calidad).
cli-model-propose-about = Proponer una versión entrenada para la línea (firma un científico de datos: "realizado").
cli-model-approve-about = Aprobar una versión propuesta: pasa a la línea (firma un jefe de calidad distinto del que propuso: "aprobado").
cli-model-rollback-about = Volver la línea a la versión anterior a la actual (firma un jefe de calidad).
cli-model-list-about = Listar las versiones de modelo: en línea, propuestas (por quién) y sus firmas.
cli-model-proposed = { $version } propuesto por { $user }: lo aprueba un jefe de calidad
cli-model-approved = { $version } aprobado por { $user }: es el modelo en línea (una estación en marcha lo toma en su próximo arranque)
cli-model-rolled-back = vuelta atrás: { $version } es otra vez el modelo en línea
cli-model-no-previous = no hay una versión anterior en línea a la cual volver
cli-model-unknown = no existe la versión de modelo { $version } en { $db }
cli-model-none = aún no hay versiones de modelo registradas
cli-model-state-live = EN LÍNEA
cli-model-state-proposed = propuesto por { $user }
## foodqc encrypt
cli-encrypt-about = Cifrar la base de datos con la clave de FOODQC_DB_KEY o FOODQC_DB_KEY_FILE (en una terminal sin ellas, una frase de acceso escrita dos veces): una copia cifrada y verificada reemplaza el archivo sin cifrar, y las copias de seguridad diarias sin cifrar también se cifran. Detenga antes la estación y la estación de trabajo: la base de datos no debe estar abierta en ningún otro lugar.
cli-encrypt-json = Imprimir en JSON lo que se hizo.
cli-encrypt-done = { $db } cifrada: { $tables } tablas, { $rows } filas, verificadas contra la copia sin cifrar
cli-encrypt-backup-done = copia de seguridad { $file } cifrada
cli-encrypt-backup-plain = la copia de seguridad { $file } sigue sin cifrar: { $error }
cli-encrypt-keep-key = guarde la clave en un lugar seguro: sin ella no se puede leer la base de datos; configure FOODQC_DB_KEY o FOODQC_DB_KEY_FILE para la estación sin pantalla, la estación de trabajo la pide al abrir
cli-encrypt-no-key = no hay clave de la base de datos: configure FOODQC_DB_KEY o FOODQC_DB_KEY_FILE (un archivo que solo su dueño pueda leer), o ejecute en una terminal para que se la pida
cli-encrypt-prompt = Nueva frase de acceso de la base de datos:
cli-encrypt-prompt-again = Repita la frase de acceso:
cli-encrypt-mismatch = las dos frases de acceso no coinciden; no se cambió nada

## The passphrase prompt of an encrypted database
unlock-title = Base de datos bloqueada
unlock-explain = La base de datos { $path } está cifrada. Escriba su frase de acceso para abrir la estación de trabajo.
unlock-passphrase = Frase de acceso
unlock-open = Abrir
unlock-checking = Verificando la frase de acceso…
unlock-wrong-key = Esta frase de acceso no abre la base de datos. Revísela e inténtelo de nuevo.
unlock-empty = Primero escriba la frase de acceso.
unlock-failed = No se pudo abrir la base de datos: { $error }
unlock-hint = Una estación sin pantalla lee la clave de FOODQC_DB_KEY o del archivo indicado en FOODQC_DB_KEY_FILE.
acceptance-rate = { $value } ({ $low }–{ $high })
acceptance-measure-recall = sensibilidad
acceptance-measure-false-reject-rate = tasa de falsos rechazos
acceptance-measure-defect-samples = muestras defectuosas independientes
acceptance-measure-good-samples = muestras buenas independientes
acceptance-shortfall-recall-live = la sensibilidad { $candidate } es menor que la del modelo en línea, { $live }, en las mismas muestras
acceptance-shortfall-false-rejects-live = la tasa de falsos rechazos { $candidate } es mayor que la del modelo en línea, { $live }, en las mismas muestras
acceptance-shortfall-recall-min = la sensibilidad { $candidate } está por debajo del mínimo de { $min }
acceptance-shortfall-false-rejects-max = la tasa de falsos rechazos { $candidate } está por encima del máximo de { $max }
acceptance-shortfall-defect-samples = { $count ->
    [one] solo hay { $count } muestra defectuosa independiente
   *[other] solo hay { $count } muestras defectuosas independientes
}; los criterios piden al menos { $min } (etiquete más defectos: el entrenamiento aparta uno de cada cinco)
acceptance-shortfall-good-samples = { $count ->
    [one] solo hay { $count } muestra buena independiente
   *[other] solo hay { $count } muestras buenas independientes
}; los criterios piden al menos { $min } (etiquete más producto bueno: el entrenamiento aparta una de cada cinco)
acceptance-error-no-reason = los criterios de aceptación solo se cambian indicando un motivo
acceptance-error-invalid = { $field } debe ser un número entre 0 y 1, no { $value }
acceptance-error-model = no se puede cargar el modelo { $version } para la comparación: { $error }
acceptance-col-measure = medida
acceptance-col-live = en línea
acceptance-col-candidate = candidato
acceptance-col-criterion = criterio
cli-model-compare-about = Comparar una versión entrenada con el modelo en línea en las muestras etiquetadas con las que ninguno entrenó, e indicar si cumple los criterios de aceptación; termina con código 3 si está bloqueada.
cli-model-compare-version = El candidato: su versión (como la imprimió `foodqc train`) o su id de fila.
cli-model-compare-json = Imprimir la comparación y la evaluación en JSON.
cli-model-criteria-about = Mostrar los criterios de aceptación y su historial, o fijarlos (jefe de calidad, con un motivo).
cli-model-criteria-min-recall = Sensibilidad mínima aceptada (de 0 a 1).
cli-model-criteria-max-false-reject-rate = Tasa máxima de falsos rechazos aceptada (de 0 a 1).
cli-model-criteria-min-defect-samples = Cantidad mínima de muestras defectuosas independientes en que debe basarse una comparación.
cli-model-criteria-min-good-samples = Cantidad mínima de muestras buenas independientes en que debe basarse una comparación.
cli-model-criteria-reason = Por qué cambian los criterios (obligatorio para cambiarlos).
cli-model-criteria-user = Jefe de calidad que inicia sesión para cambiarlos (contraseña desde FOODQC_ACTOR_PASSWORD o una pregunta).
cli-model-criteria-json = Imprimir los criterios y su historial en JSON.
cli-model-no-version = no hay ninguna versión de modelo { $version } registrada (`foodqc model compare` recibe la versión que imprimió `foodqc train`, o su id de fila)
cli-model-compare-heading = Candidato { $candidate } frente al modelo en línea { $live }, en { $samples } muestras etiquetadas con las que ninguno entrenó ({ $trained } excluidas porque uno de ellos entrenó con ellas, { $unjudged } sin ningún producto):
cli-model-accepted = Aceptado: el candidato cumple los criterios de aceptación y no es peor que el modelo en línea.
cli-model-blocked = Bloqueado: para poner este candidato en línea hace falta una excepción firmada por el jefe de calidad, con un motivo.
cli-model-criteria-set = Criterios de aceptación fijados por { $user }.
cli-model-criteria-nothing = --reason sin ningún valor nuevo: indique --min-recall, --max-false-reject-rate, --min-defect-samples o --min-good-samples
cli-model-criteria-defaults = Son los valores por defecto: nadie ha fijado criterios de aceptación en esta estación.
cli-model-criteria-history = Historial (los más recientes primero):
cli-model-criteria-sign-in = los criterios de aceptación los fija un jefe de calidad: inicie sesión con --user NOMBRE (la contraseña desde FOODQC_ACTOR_PASSWORD o una pregunta); `foodqc user add` crea uno
desk-no-version = la versión de modelo n.º { $id } ya no está registrada
train-acceptance = Aceptación de { $version }
train-acceptance-refresh = Comparar de nuevo
train-acceptance-refresh-tip = Volver a puntuar el candidato y el modelo en línea en las muestras etiquetadas con las que ninguno entrenó
train-acceptance-running = Comparando con el modelo en línea en las muestras etiquetadas con las que ninguno entrenó…
train-acceptance-samples = Frente al modelo en línea, en { $samples } muestras etiquetadas con las que ninguno entrenó ({ $trained } excluidas porque uno de ellos entrenó con ellas, { $unjudged } sin ningún producto). Tasas con su intervalo de 95 % debajo.
train-acceptance-accepted = Cumple los criterios de aceptación y no es peor que el modelo en línea.
train-acceptance-blocked = Bloqueado: ponerlo en línea requiere una excepción firmada por el jefe de calidad, con un motivo.
train-acceptance-interval = 95 %: { $low }–{ $high }
cli-train-held-out = apartadas para la prueba de aceptación, nunca usadas para entrenar: { $count ->
    [one] { $count } muestra
   *[other] { $count } muestras
} ({ $labels })
cli-train-held-out-short = hay pocas muestras buenas para apartar la parte completa de aceptación: { $count } muestras buenas que se apartarían se usaron para entrenar, para que el entrenamiento fuera posible; la verificación de aceptación tendrá menos muestras buenas independientes (etiquete más producto bueno)
train-held-out = { $count ->
    [one] Se apartó { $count } muestra etiquetada
   *[other] Se apartaron { $count } muestras etiquetadas
} para la prueba de aceptación (nunca se entrena con ellas).
promo-blocked = el modelo { $version } no cumple sus criterios de aceptación: { $shortfalls }. Solo pasa a la línea con una excepción que el jefe de calidad firma con un motivo
train-override-warning = Esta versión no cumple sus criterios de aceptación: { $shortfalls }. Al firmar la aprueba de todos modos: su motivo queda como excepción.

cli-model-propose-version = La versión del modelo (como la muestra `foodqc model list`).
cli-model-propose-reason = Por qué (queda con la firma).
cli-model-propose-user = El científico de datos que firma (contraseña de FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE o la terminal).
cli-model-approve-version = La versión del modelo (como la muestra `foodqc model list`).
cli-model-approve-reason = Por qué (queda con la firma).
cli-model-approve-user = El jefe de calidad que firma (contraseña de FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE o la terminal).
cli-model-approve-override-reason = Aprobar aunque la versión no cumpla sus criterios de aceptación, por este motivo (una segunda firma; `foodqc model compare` muestra lo que falta).
cli-model-rollback-reason = Por qué (queda con la firma).
cli-model-rollback-user = El jefe de calidad que firma.
cli-model-publish-about = Envía una versión aprobada aquí a las estaciones de la planta de una receta por el Kafka de la planta (firma un jefe de calidad); cada estación que tiene la receta guarda su versión siguiente con este modelo y, si la está usando, cambia entre dos imágenes.
cli-model-publish-version = La versión de modelo (como la muestra `foodqc model list`).
cli-model-publish-recipe = La receta cuyas estaciones la reciben.
cli-model-publish-reason = Por qué (se guarda con la firma y va con el modelo).
cli-model-publish-user = El jefe de calidad que firma.
cli-model-publish-kafka = Los brokers de la planta, HOST:PUERTO[,HOST:PUERTO].
cli-model-published = { $version } enviado a las estaciones de la receta { $recipe } (por { $actor }; envío { $command } en { $parts } partes; { $pending } mensajes aún en espera)
cli-model-publish-pending = { $pending } mensajes aún no llegaron a los brokers { $brokers }: quedan en la bandeja de salida de esta PC y salen en el próximo inicio de publicación desde esta carpeta de datos
cli-model-list-json = Imprimir las versiones y sus firmas como JSON.

## Audit view
tab-audit = Auditoría
keys-audit = Registro de auditoría (jefe de calidad, administrador)
signed-review-audit = revisar el extracto del registro de auditoría
audit-heading = Registro de auditoría
audit-user = Usuario
audit-user-hint = p. ej. qc.anna
audit-action = Acción
audit-action-hint = lot, model, signature…
audit-from = Desde
audit-to = Hasta
audit-time-hint = 2026-11-20 08:00
audit-apply = Aplicar
audit-clear = Limpiar
audit-verify = Verificar cadena
audit-verify-tip = Recorrer las cadenas de hashes del registro de auditoría y de las inspecciones y comparar sus cabezas con las copias guardadas fuera de la base de datos
audit-export-pdf = Exportar PDF firmado…
audit-export-tip = Todas las entradas que selecciona el filtro mostrado (no solo las más recientes de la lista), con la verificación de la cadena, firmadas por usted como revisadas
audit-count = { $count ->
    [one] { $count } entrada, la más reciente primero
   *[other] { $count } entradas, las más recientes primero
} (se listan como máximo { $limit })
audit-sign-record = extracto del registro de auditoría ({ $filter }), archivo { $file }
audit-sign-broken = La cadena de hashes está rota: { $result }. El extracto lo indica; su firma registra que usted lo revisó.
audit-filter-actor = usuario { $actor }
audit-filter-action = acción { $action }
audit-filter-all = todas las entradas
audit-old-new = antes: { $old } · después: { $new }
audit-col-id = N.º
audit-col-time = Hora ({ $zone })
audit-col-actor = Usuario
audit-col-action = Acción
audit-col-record = Registro
audit-col-details = Detalles
audit-col-reason = Motivo
audit-pdf-title = Extracto del registro de auditoría
audit-pdf-station = Estación: { $station }
audit-pdf-filter = Filtro: { $filter }
audit-pdf-generated = Generado el { $utc } UTC ({ $plant } { $zone })
audit-pdf-chain = Cadena de hashes: { $result }
audit-pdf-entries = { $count ->
    [one] { $count } entrada, la más antigua primero
   *[other] { $count } entradas, las más antiguas primero
}
audit-pdf-signature = Firma electrónica
audit-pdf-sig-signer = Firmado por: { $name } (usuario { $user }, { $role })
audit-pdf-sig-time = Hora: { $utc } UTC ({ $plant } { $zone })
audit-pdf-sig-meaning = Significado: { $meaning } ({ $action })
audit-pdf-sig-reason = Motivo: { $reason }
audit-pdf-sig-hash = Contenido firmado (blake3): { $hash }
audit-pdf-sig-ids = Firma { $id }, entrada de auditoría { $entry }, registro { $record }
audit-pdf-sig-note = La firma está vinculada al hash del contenido de este extracto (estación, filtro, hora, verificación y cada entrada con su hash de cadena); se guarda en las firmas de la estación y en su registro de auditoría. El firmante volvió a ingresar su contraseña para firmar.
audit-pdf-footer = extracto de auditoría foodqc { $record } · contenido { $hash }… · página { $page } de { $pages }
audit-export-empty = ninguna entrada de auditoría coincide ({ $filter }): no hay nada que revisar
audit-export-no-target = indique dónde va el extracto: --pdf ARCHIVO y/o --csv ARCHIVO
desk-audit-verifying = Verificando las cadenas de hashes…
desk-audit-choose-file = Extracto de auditoría firmado: elija un archivo
desk-audit-exporting = Escribiendo el extracto de auditoría firmado…
desk-audit-exported = Se escribieron { $entries } entradas de auditoría en { $path }, firmadas como revisadas por { $signer }
cli-audit-export-about = Exportar las entradas de auditoría que selecciona un filtro (todas, la más antigua primero) con la verificación de las cadenas de hashes, como PDF y/o CSV que un jefe de calidad firma como revisado (contraseña de nuevo, motivo).
cli-audit-export-pdf = Escribir aquí el extracto firmado en PDF.
cli-audit-export-csv = Escribir aquí las entradas del extracto en CSV.
cli-audit-export-actor = Solo las entradas de este actor.
cli-audit-export-action = Solo esta acción, o las acciones debajo de ella (`lot` selecciona `lot.status`).
cli-audit-export-from = Desde este momento, en hora de planta (America/Lima, o $FOODQC_TZ): 2026-11-20, "2026-11-20 08:00" o RFC 3339 con desfase.
cli-audit-export-to = Hasta este momento, en hora de planta (exclusivo).
cli-audit-export-user = El jefe de calidad que revisa y firma (contraseña de FOODQC_ACTOR_PASSWORD, FOODQC_ACTOR_PASSWORD_FILE o la terminal).
cli-audit-export-reason = Por qué (queda con la firma).
cli-audit-bad-time = { $option }: { $error }
cli-audit-export-need-reason = un extracto de auditoría firmado necesita un motivo: --reason TEXTO
cli-audit-export-no-dir = no se puede escribir { $path }: la carpeta { $dir } no existe
cli-audit-export-wrote-pdf = se escribió { $path } ({ $kb } kB)
cli-audit-export-wrote-csv = se escribió { $path } ({ $rows } filas)
cli-audit-export-signed = { $entries } entradas de auditoría firmadas como { $meaning } por { $signer }: firma { $id }, contenido { $hash }

## Line I/O: decisions to the PLC (Modbus TCP) and foodqc line-sim
cli-inspect-plc = Enviar cada decisión a un PLC: modbus-tcp://HOST:PUERTO[?unit=N] (repetible). El mapa de registros está en el README; `foodqc line-sim` hace de PLC.
cli-label-line-output = salida a línea
cli-inspect-line-output = { $output }: { $sent } enviadas, { $acked } confirmadas, { $late } tardías, { $missed } perdidas; de la captura a la confirmación mediana { $median } ms, p99 { $p99 } ms
cli-line-sim-about = Hacer de PLC para una estación que no lo tiene: un servidor Modbus TCP con el mapa de registros de la estación que confirma cada decisión y dispara un expulsor simulado; muestra los rechazos disparados, tardíos y perdidos.
cli-line-sim-listen = Dirección donde escuchar (el puerto 502 requiere root; el --plc de la estación indica la misma).
cli-line-sim-belt-mm-s = Velocidad de la faja en mm/s.
cli-line-sim-ejector-mm = Distancia de la vista de la cámara al expulsor, mm.
cli-line-sim-valve-ms = Tiempo que la válvula necesita entre la orden y el soplido, ms.
cli-line-sim-fire-review = Disparar también con los veredictos de revisión (rechazo ante la duda).
cli-line-sim-seconds = Detenerse tras tantos segundos (por defecto: con Ctrl-C / SIGTERM).
cli-line-sim-json = Mostrar los conteos finales como JSON.
cli-line-sim-bad-number = { $option } debe ser un número positivo, no { $value }
cli-line-sim-cannot-listen = no se puede escuchar en { $addr }: { $error }
cli-line-sim-listening = simulador de línea (PLC Modbus TCP) escuchando en { $addr }; conecte la estación con --plc modbus-tcp://{ $addr }
cli-line-sim-title = foodqc line-sim: lo que hizo el expulsor
cli-line-sim-label-fired = disparos
cli-line-sim-label-late = tardías
cli-line-sim-label-missed = perdidas
cli-line-sim-status = { $items } piezas, { $fired } disparos, { $late } tardías, { $missed } perdidas; estación { $state }, latido { $heartbeat }
live-camera-tile = { $camera }: { $items } piezas, { $rejects } rechazos, { $dropped } descartados
live-camera-tile-tip = Clic para ver solo esta cámara y fijar su lote y receta a la derecha; otro clic vuelve a la cuadrícula.
live-camera-selected = Cámara { $camera }
live-camera-selected-tip = El lote, la receta y la captura van a esta cámara. Haga clic en la imagen de otra cámara para elegirla; las salidas a la línea son de la primera cámara.
live-recipe = Receta
live-recipe-none = ninguna
live-recipe-none-saved = Aún no hay recetas: abra Recetas… para crear una desde la configuración en marcha.
live-recipe-edit = Recetas…
live-recipe-edit-tip = Crear, cambiar, exportar o leer recetas (guardar es del jefe de calidad).
recipe-editor-title = Recetas
recipe-editor-saved = Recetas guardadas
recipe-editor-none-saved = Ninguna todavía.
recipe-editor-entry-plc = { $recipe } (PLC { $index })
recipe-editor-from-running = Nueva desde lo actual
recipe-editor-from-running-tip = Una receta nueva con la versión de modelo que juzga ahora y sus umbrales; póngale un nombre.
recipe-editor-save = Guardar como nueva versión
recipe-editor-save-tip = Guardar esta receta como la siguiente versión de su nombre (queda en la auditoría). Las líneas que la usan toman la nueva versión en su próximo cambio.
recipe-editor-export = Exportar…
recipe-editor-export-tip = Escribir la receta guardada como archivo JSON para otra estación (allí Leer archivo…, o foodqc recipe import).
recipe-editor-read = Leer archivo…
recipe-editor-read-tip = Leer un archivo de receta en el editor; revíselo y guárdelo aquí.
recipe-field-name = Nombre
recipe-field-name-hint = p. ej. galleta-vainilla
recipe-field-plc-index = Índice PLC
recipe-field-plc-index-tip = El número que el PLC escribe en su registro de receta para elegirla; 0 si ninguno.
recipe-field-model = Versión de modelo
recipe-field-model-running = (el modelo en marcha)
recipe-field-thresholds = Umbrales
recipe-field-own = propios
recipe-field-thresholds-tip = Sin umbrales propios la receta mantiene los del modelo.
recipe-field-reject = rechazo
recipe-field-review = revisión desde
recipe-field-min-item = Pieza mínima
recipe-field-min-item-tip = Fracción del área del cuadro que necesita una pieza: lo más pequeño son migas o ruido. Sin ella, lo del modelo.
recipe-field-contrast = Contraste con la faja
recipe-field-contrast-tip = Diferencia mínima de color con la faja (R+G+B, 1 a 255) para que un píxel cuente como producto: súbala si las sombras en una faja clara salen como piezas. El color de la faja se aprende de cada cuadro.
recipe-field-expected-items = Piezas por cuadro
recipe-field-expected-items-tip = Cuántas piezas se esperan por cuadro, para los registros de la línea; 0 si no se fija.
recipe-field-notes = Notas
recipe-field-notes-hint = producto, qué cambió
recipe-editor-give-name = Póngale un nombre a la receta para guardarla.
recipe-invalid = receta "{ $recipe }": { $field } { $problem }
recipe-not-a-recipe = { $path }: no es una receta: { $error }
recipe-problem-name-length = debe tener de 1 a 64 caracteres imprimibles
recipe-problem-name-spaces = no debe empezar ni terminar con espacios
recipe-problem-plc-index = debe ser de 1 a 65535 (0 significa ninguno)
recipe-problem-blank = está en blanco
recipe-problem-min-item-area = es { $value }; debe ser mayor que 0 y a lo más 0.5 del cuadro
recipe-problem-belt-contrast = debe ser de 1 a 255
thresholds-not-finite = el umbral { $threshold } debe ser un número finito, se recibió { $value }
thresholds-review-above-reject = el umbral de revisión { $review } está por encima del umbral de rechazo { $reject }: la banda de revisión debe quedar bajo el rechazo
live-plc = PLC
live-plc-connected = conectado
live-plc-offline = sin conexión
live-plc-sent = Confirmadas / enviadas
live-plc-late-missed = Tardías / perdidas
live-plc-latency = Al PLC mediana / p99
cli-plc = Enviar las decisiones de la ventana a un PLC: modbus-tcp://HOST:PUERTO[?unit=N] (repetible).
cli-mqtt = Publicar las piezas, alarmas y el estado de la ventana en un bróker MQTT: mqtt://HOST:PUERTO[/PREFIJO] (repetible).
cli-inspect-reject-on-doubt = Rechazo ante la duda: las piezas en la banda de revisión (y las sin puntaje) van al PLC como rechazo; la base de datos guarda el veredicto del modelo.
cli-inspect-source = camera:N, folder:RUTA o synthetic[:SEMILLA]; repítalo para vigilar varias cámaras a la vez, una estación cada una (ESTACIÓN-1, ESTACIÓN-2, ...).
cli-source-only-one = este comando lee una sola fuente, no { $n }: indique --source una vez
cli-inspect-plc-one-camera = --plc con varios --source no está soportado: cada anillo de piezas del PLC sirve a una estación; ejecute un foodqc inspect por cámara con su propio --plc
cli-inspect-camera-line = { $station } ({ $source }): { $frames } cuadros, { $dropped } descartados; { $items } piezas, { $rejects } rechazos ({ $rate }); captura -> veredicto p99 { $p99 } ms
cli-inspect-cameras-recorded = todas las cámaras: { $recorded } registradas, { $journaled } en el diario, en { $seconds } s
recipe-unknown = la receta { $recipe } no está en la base de datos (foodqc recipe list muestra las recetas)
recipe-model-not-registered = receta { $recipe }: la versión de modelo { $version } no está registrada en esta estación
recipe-model-mismatch = receta { $recipe }: { $path } contiene la versión de modelo { $found }, no { $version }
cli-recipe-about = Recetas, las configuraciones de producto entre las que cambia una línea en un cambio de producto: `save` (desde la configuración en marcha), `list`, `export` e `import` como archivo JSON. Guardar e importar corresponde al jefe de calidad; `inspect --recipe NOMBRE` usa una, el registro de receta del PLC elige una.
cli-recipe-user = Jefe de calidad que inicia sesión para guardar o importar (contraseña de FOODQC_ACTOR_PASSWORD o la terminal).
cli-recipe-save-about = Guardar una receta como su siguiente versión, desde la configuración en marcha (el modelo activo y sus umbrales) con las opciones indicadas encima.
cli-recipe-list-about = Listar la versión más reciente de cada receta.
cli-recipe-export-about = Escribir la versión más reciente de una receta como archivo JSON.
cli-recipe-import-about = Guardar aquí la receta de un archivo JSON (de `recipe export`) como su siguiente versión.
cli-recipe-save-name = Nombre de la receta, p. ej. galleta-vainilla.
cli-recipe-save-plc-index = Índice que el PLC escribe en su registro de receta para elegir esta receta (1..65535).
cli-recipe-save-reject = Umbral de rechazo (por defecto: el del modelo).
cli-recipe-save-review = Umbral de revisión: las piezas por encima, y no por encima del rechazo, van a revisión.
cli-recipe-save-reject-on-doubt = Las piezas en la banda de revisión van al PLC como rechazo.
cli-recipe-save-expected-items = Piezas que se esperan por cuadro.
cli-recipe-save-min-item-area = Pieza más pequeña como fracción del área del cuadro, p. ej. 0.004 (por defecto: la del modelo).
cli-recipe-save-min-belt-contrast = Diferencia mínima de color con la faja para que un píxel cuente como producto, 1..255 (por defecto: la del modelo).
cli-recipe-save-notes = Texto libre: el producto, qué cambió.
cli-recipe-list-json = Mostrar las recetas como JSON.
cli-recipe-export-name = Nombre de la receta.
cli-recipe-export-out = Archivo a escribir.
cli-recipe-import-file = Un archivo JSON de receta.
recipe-cannot-write = no se puede escribir { $path }: { $error }
recipe-cannot-read = no se puede leer { $path }: { $error }
cli-recipe-exported = receta { $recipe } escrita en { $path }
cli-recipe-saved = receta { $recipe } guardada por { $by }
cli-recipe-none = aún no hay recetas (foodqc recipe save NOMBRE --user JEFE_DE_CALIDAD)
cli-recipe-line = { $recipe }: índice PLC { $plc }, modelo { $model }, rechazo por encima de { $reject }; guardada por { $by }
cli-inspect-recipe = Juzgar con esta receta (su versión más reciente: modelo, umbrales, rechazo ante la duda); ver `foodqc recipe`.
cli-inspect-mqtt = Publicar cada pieza, las alarmas y el estado de la estación en un bróker MQTT: mqtt://HOST:PUERTO[/PREFIJO] (repetible). Tópicos PREFIJO/ESTACIÓN/items, /alarms y /state (retenido); el formato de los mensajes está en el README.
live-plc-inputs = Desde el PLC
live-plc-inputs-value = lote { $lot }, receta { $recipe }
live-plc-test-fire = Probar expulsor
live-plc-test-fire-tip = Disparar el expulsor una vez, sin pieza, para revisar válvula y tiempos (queda en auditoría). Disparos hasta ahora: { $fired }.
line-setup = Salidas a línea
line-setup-plc = PLC
line-setup-mqtt = Bróker MQTT
line-setup-plc-hint = modbus-tcp://HOST:502
line-setup-mqtt-hint = mqtt://HOST:1883/foodqc
line-setup-reject-on-doubt = Rechazo ante la duda
line-setup-reject-on-doubt-tip = Las piezas en la banda de revisión (y las sin puntaje) van al PLC como rechazo; el registro guarda el veredicto del modelo.
line-setup-apply = Aplicar y reiniciar la línea
line-setup-apply-tip = Revisa las direcciones, registra el cambio en la auditoría y reinicia la estación con ellas (administradores).
live-mqtt = MQTT
live-mqtt-acked = Confirmadas / publicadas
live-mqtt-backlog = Esperando al bróker
live-mqtt-latency = Al bróker mediana / p99

## Frame sources and the station (errors people read)
capture-no-camera = no se encontró cámara (se buscó la cámara { $index }); conecte una cámara o use --source synthetic
capture-camera-open = no se pudo abrir la cámara { $index }: { $reason }
capture-camera-lost = la cámara { $index } dejó de entregar cuadros (¿desconectada?): { $reason }
capture-camera-not-built = esta compilación no incluye soporte de cámara (compile con la función `camera`)
capture-folder-missing = la carpeta { $path } no existe o no es una carpeta
capture-folder-empty = la carpeta { $path } no contiene imágenes .jpg/.jpeg/.png
capture-io = no se puede leer { $path }: { $error }
capture-nothing-decodable = ninguna imagen de { $path } se pudo decodificar ({ $count } archivos); último error: { $last }
capture-out-of-range = { $option } = { $value } está fuera de rango: { $allowed }
capture-bad-spec = fuente no válida `{ $spec }`: { $reason }
station-source = no se puede abrir la fuente { $spec }
station-model-json = no se puede describir el modelo { $version } para la base de datos
station-spawn = no se puede iniciar el hilo { $thread }
station-panicked = el hilo { $thread } falló
station-recorder-in-use = el registrador sigue en uso
station-none = no hay estación que iniciar: indique al menos una fuente
station-mixed-data-dirs = la estación { $station } registra en otra carpeta de datos que la primera estación
station-recorder-stopped = el registrador se detuvo; las inspecciones ya no se pueden guardar

## Database errors people read
store-is-directory = la ruta de la base de datos { $path } es una carpeta, no un archivo; indique a foodqc un archivo dentro de ella (p. ej. { $path }/foodqc.sqlite)
store-not-a-database = { $path } no es una base de datos de foodqc (el archivo no es una base de datos); muévalo o elija otra carpeta de datos
store-foreign = { $path } es una base de datos SQLite de otro programa (tiene tablas pero no la versión de esquema de foodqc); no se modificará
store-open = no se puede abrir la base de datos { $path } para escribir: { $cause } (revise que el archivo y su carpeta se puedan escribir)
store-key-needed = la base de datos { $path } está cifrada: se necesita una clave (defina FOODQC_DB_KEY o FOODQC_DB_KEY_FILE)
store-wrong-key = la base de datos { $path } no abre con la clave dada: la clave es incorrecta (revise FOODQC_DB_KEY, FOODQC_DB_KEY_FILE o la frase escrita), o el archivo no es una base de datos de foodqc
store-not-encrypted = la base de datos { $path } no está cifrada, pero hay una clave definida; cífrela con `foodqc encrypt` (con la estación detenida), o quite FOODQC_DB_KEY y FOODQC_DB_KEY_FILE para usarla sin cifrar
store-too-new = la base de datos { $path } tiene la versión de esquema { $found }, pero este foodqc solo conoce versiones hasta { $supported }; la escribió un foodqc más nuevo; actualice foodqc (el archivo no se modificó)
store-damaged = la base de datos { $path } está dañada ({ $detail }); foodqc no escribirá en ella. Restaure la última copia con `foodqc restore ARCHIVO` (las copias diarias están en { $backups }), o mueva el archivo dañado para empezar una base de datos nueva
store-would-overwrite = no se escribirá { $path }: es la base de datos { $db } o uno de sus propios archivos; elija otro nombre de archivo
store-bad-backup = no se puede restaurar desde { $path }: { $reason }; la base de datos actual no se cambió
store-unrecorded = el registrador de inspecciones de { $path } se rindió con { $unrecorded } pieza(s) sin registrar; último error: { $last_error }

## Errores de la biblioteca (archivos, modelos, base de datos, entrenamiento, salidas a línea)
err-bench-kafka = brokers de planta { $brokers }: { $error }
err-bench-plant-not-empty = el benchmark de planta necesita una base de datos de planta vacía; { $db } tiene { $rows } inspecciones (use una base de datos de prueba)
err-bench-error-pool = no se puede crear el grupo de hilos: { $v0 }
err-bench-error-create-dir = no se puede crear { $path }: { $source }
err-bench-error-read = no se puede leer { $path }: { $source }
err-bench-error-line-sim = no se puede iniciar el simulador de línea: { $v0 }
err-bench-error-source-ended = la línea sintética terminó de forma inesperada
err-bench-error-encode = no se puede codificar un JPEG: { $v0 }
err-bench-error-decode = no se puede decodificar una entrada de la prueba: { $v0 }
err-bench-error-size = no se puede leer el tamaño de una entrada de la prueba: { $v0 }
err-bench-error-deep = nivel profundo: { $v0 }
err-bench-error-labelled-training = falló el entrenamiento con etiquetas: { $v0 }
err-bench-error-no-training-run = no hubo ningún entrenamiento
err-capture-camera-decode-jpeg = falló la decodificación JPEG ({ $bytes } bytes): { $source }
err-capture-camera-decode-odd-width = el ancho { $width } del cuadro YUYV es impar
err-capture-camera-decode-buffer-size = error interno: tamaño de búfer incorrecto para { $width }x{ $height }
err-domain-paths-no-data-dir = no se encontró la carpeta personal; indique --data-dir para elegir dónde guarda foodqc sus datos
err-domain-role-unknown-role = rol desconocido { $v0 }: use uno de operator, technician, data_scientist, qc_manager, admin
err-eval-error-no-dataset = la carpeta del conjunto de datos { $root } no existe
err-eval-error-no-train-images = el conjunto de datos { $root } necesita imágenes buenas de entrenamiento: { $source }
err-eval-error-no-test-images = el conjunto de datos { $root } no tiene imágenes de prueba (test/<clase>/*.jpg)
err-eval-error-list-dir = no se puede listar { $path }: { $source }
err-eval-error-image-size = no se puede leer el tamaño de { $path }: { $source }
err-eval-error-mask = no se puede leer la máscara { $path }: { $source }
err-eval-error-mask-size = la máscara { $path } mide { $size }x{ $size2 } pero su foto mide { $photo }x{ $photo2 }
err-eval-error-deep = nivel profundo: { $v0 }
err-eval-error-selection = al elegir el nivel: { $v0 }
err-eval-error-grading = falló la clasificación de { $dir }: { $source }
err-eval-error-create-dir = no se puede crear { $path }: { $source }
err-eval-error-write-preview = no se puede escribir { $path }: { $source }
err-i18n-unknown-language = idioma desconocido { $v0 }: use uno de en, es
err-imageio-decode-image-load-error = no se puede decodificar la imagen { $path }: { $source }
err-labeling-export-not-a-folder = la ruta de exportación { $path } existe y no es una carpeta
err-labeling-export-io = no se puede escribir { $path }: { $source }
err-labeling-export-csv = no se puede escribir { $path }: { $source }
err-labeling-import-no-actor = la importación necesita el nombre de quien importa; se recibió un nombre vacío
err-labeling-import-copy-mask = no se puede copiar la máscara { $from } a { $to }: { $source }
err-labeling-import-mask = máscara { $path }: { $source }
err-labeling-import-mask-size = la máscara { $path } mide { $mask }x{ $mask2 } pero la imagen mide { $image }x{ $image2 }
err-lineio-modbus-unit = la unidad { $v0 } en { $v1 } no es un número de 0 a 255
err-lineio-modbus-option = opción desconocida { $v0 } en { $v1 }: solo se entiende unit=N
err-lineio-mqtt-port = el puerto { $v0 } en { $v1 } no es un número de 1 a 65535
err-lineio-mqtt-prefix = el prefijo { $v0 } en { $v1 } no debe contener '+', '#' ni niveles vacíos
err-model-anomaly-io = no se puede leer el archivo de modelo { $path }: { $source }
err-model-anomaly-parse = el archivo de modelo { $path } no es válido: { $reason }
err-model-anomaly-inconsistent = el archivo de modelo { $path } está dañado: { $what }
err-model-anomaly-fit = no se pudo ajustar el modelo { $what }: { $source }
err-model-anomaly-cancelled = se canceló el entrenamiento
err-model-backbone-format = los pesos no son un archivo safetensors válido: { $v0 }
err-model-backbone-missing-tensor = el archivo de pesos no tiene el tensor `{ $name }`
err-model-backbone-shape = el tensor `{ $name }` tiene forma { $found }, EfficientNet-Lite0 necesita { $expected }
err-model-backbone-d-type = el tensor `{ $name }` está guardado como { $found }; solo se leen F16 y F32
err-model-backbone-input-too-small = la entrada mide { $width }x{ $height }; la red necesita al menos 32x32
err-model-classifier-error-io = no se puede leer ni escribir el archivo de clasificador { $path }: { $source }
err-model-classifier-error-parse = el archivo de clasificador { $path } no es válido: { $reason }
err-model-classifier-error-inconsistent = el archivo de clasificador { $path } está dañado: { $what }
err-model-classifier-error-data = datos de entrenamiento incorrectos: { $v0 }
err-model-classifier-error-one-class = se necesitan al menos dos clases para entrenar, hay { $v0 }
err-model-classifier-error-fit = falló el resolvedor SVM: { $v0 }
err-model-classifier-error-dimension = el vector de características tiene { $got } valores, el clasificador espera { $expected }
err-model-deep-item = pieza { $index }: { $source }
err-model-deep-bank = banco de memoria: { $v0 }
err-model-deep-backbone = red preentrenada: { $v0 }
err-model-deep-cancelled = cancelado
err-model-deep-patches-backbone = red preentrenada: { $v0 }
err-model-deep-patches-patches = descriptores de parches: { $v0 }
err-model-deep-patches-no-cells = la pieza no cubre ninguna celda de la cuadrícula de parches de { $side }x{ $side }
err-model-gaussian-too-few-samples = se necesitan al menos { $needed } muestras para ajustar, hay { $got }
err-model-gaussian-wrong-length = la muestra { $index } tiene { $got } valores, se esperaban { $expected }
err-model-gaussian-not-finite = la característica { $index } tiene un valor no finito
err-model-grading-read = no se puede leer { $path }: { $source }
err-model-grading-network = red preentrenada: { $v0 }
err-model-operating-io = { $action ->
        [write] no se puede escribir el archivo de puntajes { $path }: { $source }
       *[read] no se puede leer el archivo de puntajes { $path }: { $source }
    }
err-model-operating-json = el archivo de puntajes { $path } no es válido: { $source }
err-model-operating-non-finite = el archivo de puntajes { $path } tiene un puntaje no finito ({ $score }) para `{ $origin }`
err-model-patchcore-no-maps = no se dio ningún mapa de características: pase al menos uno (el más fino primero)
err-model-patchcore-map-grid = el mapa de características { $map } ({ $found }) no encaja con el mapa 0 ({ $first }): { $reason }
err-model-patchcore-non-finite = valor no finito (NaN o infinito) en { $what }
err-model-patchcore-options = opciones de PatchCore no válidas: { $v0 }
err-model-patchcore-cancelled = se canceló el entrenamiento
err-model-patchcore-damaged = modelo PatchCore dañado: { $v0 }
err-model-patchcore-io = no se puede acceder al archivo de modelo PatchCore { $path }: { $source }
err-model-patchcore-parse = el archivo de modelo PatchCore { $path } no es válido: { $reason }
err-model-selection-too-few-items = la validación con defectos sintéticos necesita al menos { $needed } piezas buenas, hay { $got }
err-model-selection-classical = nivel clásico: { $v0 }
err-model-selection-deep = nivel profundo: { $v0 }
err-reports-write = no se puede escribir { $path }: { $reason }
err-reports-cancelled = se canceló la exportación a { $path }
err-services-model-choice-active-unreadable = no se puede leer el modelo activo: { $v0 }
err-services-model-choice-registered = el modelo promovido { $version } no se puede usar ({ $reason })
err-services-threshold-settings-not-registered = la versión de modelo { $version } no está registrada en { $db }: ponga en marcha la línea primero
err-services-threshold-settings-no-preview-images = No se encontraron en el disco imágenes de prueba para la vista previa (el archivo de puntajes las nombra).
err-store-create-dir = no se puede crear la carpeta { $path }: { $source }
err-store-create-file = no se puede crear el archivo de base de datos { $path }: { $source }
err-store-key = clave de la base de datos desde { $from }: { $reason }
err-store-migration = falló la migración de la base de datos { $path } a la versión de esquema { $target }: { $source }
err-store-sqlite = base de datos { $path }: { $what }: { $source }
err-store-not-found = base de datos { $path }: no hay fila con id { $id } en la tabla { $table }
err-store-conflict = base de datos { $path }: { $what }
err-store-invalid-value = base de datos { $path }: valor no válido { $value } en { $table }.{ $column }
err-store-json = base de datos { $path }: JSON incorrecto en { $table }.{ $column }: { $source }
err-store-non-utf8-path = la ruta { $path } no es UTF-8 válido y no se puede guardar en { $table }
err-store-encode = no se puede codificar la imagen de muestra ({ $width }x{ $height }) como PNG para { $dir }: { $source }
err-store-io = no se puede escribir { $path }: { $source }
err-store-recorder = registrador de inspecciones de { $path }: { $reason }
err-store-read-model-filter-filter-error = filtro { $field }: { $value } { $problem }
err-training-job-not-enough-data = no hay suficientes muestras etiquetadas para entrenar: { $v0 }
err-training-job-cancelled = se canceló el entrenamiento; no se guardó nada
err-training-job-save = no se puede guardar el modelo en { $path }: { $reason }
err-training-job-measure-no-item = no se encontró ninguna pieza en la imagen
err-training-cancelled = cancelado
err-training-no-truth = la fuente { $source_name } no tiene verdad de referencia
err-training-too-few-truth-items = la fuente dio muy pocas piezas con verdad de referencia
err-vision-synthetic-defects-empty-mask = la máscara { $role } no tiene ningún píxel de pieza
err-vision-synthetic-defects-size-mismatch = el recorte { $role } mide { $rgb } px pero su máscara mide { $mask } px
err-vision-synthetic-defects-not-placed = no se pudo colocar ningún defecto { $kind } en la pieza (semilla { $seed })


## Detalles de errores que lee la gente (usuarios, importaciones, respaldos, cámaras, escritorio)
station-cannot-switch-source = no se puede cambiar a { $source }: { $error }
store-user-exists = ya existe un usuario llamado "{ $user }"
store-no-such-user = no hay ningún usuario llamado "{ $user }"
desk-cannot-start-training = no se puede iniciar el entrenamiento: { $error }
desk-cannot-save-mask = no se puede guardar la máscara { $path }: { $error }
desk-cannot-create-folder = no se puede crear la carpeta { $path }: { $error }
desk-cannot-start-job = no se puede iniciar la tarea { $job }: { $error }
desk-cannot-start-worker = no se puede iniciar el trabajador de escritorio: { $error }
import-line-lacks-column = a la línea { $line } le falta la columna de archivo o de etiqueta
import-line-empty-label = la línea { $line } ({ $file }) tiene la etiqueta vacía
import-listed-not-found = figura en { $csv } pero no se encontró (o no es un archivo PNG/JPEG)
export-cannot-read-sample = no se puede leer la imagen de la muestra: { $error }
export-cannot-read-mask = no se puede leer la máscara (la imagen se exportó sin ella): { $error }
folder-skipped = omitido: { $reason }
backup-wrong-key = no abre con la clave de base de datos indicada
backup-not-sqlite = no es una base de datos SQLite ({ $error })
backup-not-foodqc = no es una base de datos de foodqc
backup-too-new = tiene la versión de esquema { $version }, más nueva que la { $ours } de este foodqc
backup-damaged = está dañada ({ $error })
backup-copy-fails-check = la copia no pasa su verificación: { $check }
camera-refused-format = la cámara rechazó el formato { $format }: { $error }
camera-cannot-stream = no se puede iniciar la transmisión: { $error }

## Valores guardados como los dice el lector
label-source-frame = cuadro { $frame }
audit-record-lot = lote { $value }
audit-record-sample = muestra { $value }
audit-record-user = usuario { $value }
audit-record-model = modelo { $value }

## La planta (Kafka)
kafka-bad-address = la dirección de bróker Kafka "{ $address }" en "{ $all }" no es HOST:PUERTO (puerto de 1 a 65535)
kafka-tls-bad-switch = { $variable } es "{ $value }": use 1/true/on para activar TLS hacia los brókers Kafka, 0/false/off para texto plano
kafka-tls-file = { $variable }: no se puede leer { $file }: { $error }
kafka-tls-pair = { $set } está definido sin { $missing }: un certificado de cliente necesita su clave (y la clave su certificado)
kafka-tls-ca-file = no se puede leer la autoridad de los brókers { $file }: { $error }
kafka-crop-too-large = el recorte de rechazo { $crop } ocupa { $bytes } bytes en JPEG, más del límite de { $limit }: no se envía a la planta
kafka-cannot-start = no se puede empezar a publicar a los brókers de planta { $brokers }: { $error }
cli-inspect-kafka = Publicar cada inspección y entrada de auditoría al Kafka de la planta: HOST:PUERTO[,HOST:PUERTO]. Los registros van a una bandeja de salida en la misma transacción; si el bróker no está, crece, y se vacía cuando vuelve.
cli-inspect-kafka-crops = Con --kafka, enviar también el recorte de cada rechazo en JPEG al tópico foodqc.rejects, si ocupa como mucho estos KiB (1 a 900; uno mayor no se envía y se cuenta).
cli-inspect-plant-summary = planta: { $delivered } mensajes confirmados por { $brokers }, { $pending } esperando en la bandeja de salida
plant-db-error = base de datos de planta { $db }: { $what }: { $error }
plant-cannot-consume = no se pueden leer los tópicos de planta de { $brokers }: { $error }
plant-bad-message = se omitió un mensaje de { $topic } (partición { $partition }, offset { $offset }) que no es un registro de foodqc: { $error }
cli-keys-about = Claves de firma de planta: mostrar la de este PC (sella las decisiones de lote y las publicaciones de modelo hechas aquí), confiar, listar y revocar las claves cuyos mensajes aplica esta estación.
cli-keys-user = Administrador que inicia sesión para confiar o revocar una clave (contraseña de FOODQC_ACTOR_PASSWORD o de un aviso).
cli-keys-show-about = Mostrar la clave de firma de planta de este PC (se crea al primer uso): entréguela a los administradores de las estaciones.
cli-keys-show-json = Imprimir JSON.
cli-keys-list-about = Listar las claves en que confía esta estación.
cli-keys-list-json = Imprimir JSON.
cli-keys-trust-about = Confiar en la clave de un PC que decide: sus decisiones de lote y publicaciones de modelo se aplican aquí.
cli-keys-trust-name = Un nombre para la clave, p. ej. el PC de la jefa de calidad (calidad-pc-2).
cli-keys-trust-key = La clave pública tal como la imprime foodqc keys show en ese PC (base64).
cli-keys-revoke-about = Dejar de confiar en una clave: sus mensajes se rechazan desde ahora.
cli-keys-revoke-name = El nombre con que se confió en la clave.
cli-keys-own = clave de firma de planta de este PC (huella { $fingerprint }); confíe en ella en cada estación con foodqc keys trust NOMBRE CLAVE:
cli-keys-none = esta estación aún no confía en ninguna clave de planta: rechaza toda decisión de lote y publicación de modelo de la planta (foodqc keys trust NOMBRE CLAVE)
cli-keys-row = { $name }  { $fingerprint }  (confiada por { $by })
cli-keys-trusted = clave { $name } ({ $fingerprint }) confiable: sus decisiones de lote y publicaciones de modelo se aplican aquí desde ahora
cli-keys-revoked = clave { $name } ({ $fingerprint }) revocada: sus mensajes se rechazan desde ahora
plant-trust-bad-key = { $key } no es una clave de planta: use el texto base64 que imprime foodqc keys show (32 bytes)
plant-trust-no-such = ninguna clave confiable se llama { $name } (foodqc keys list)
cli-plant-about = Recoger los registros de cada estación desde el Kafka de la planta en PostgreSQL (puede correr varios: se reparten las particiones de los tópicos).
cli-plant-kafka = Brókers Kafka: HOST:PUERTO[,HOST:PUERTO].
cli-plant-postgres = La base de datos de planta: postgres://USUARIO[:CLAVE]@HOST:PUERTO/BD.
cli-plant-group = Grupo de consumidores; los recolectores de un grupo se reparten las particiones.
cli-plant-idle-exit = Detenerse tras estos segundos sin mensajes (por defecto: correr hasta que lo detengan).
cli-plant-summary = recolector de planta: { $messages } mensajes leídos, { $stored } filas guardadas ({ $skipped } omitidos) en { $seconds } s
monitor-cannot-start = no se puede servir /metrics en { $addr }: { $error }
monitor-starting = iniciando
monitor-source-lost = estación { $station }: se perdió la cámara
monitor-stalled = estación { $station }: ningún cuadro juzgado en 2 s
monitor-collector-stuck = el recolector no ha dado vuelta en { $seconds } s
cli-inspect-metrics = Servir /metrics (Prometheus) y /healthz en esta dirección, p. ej. 0.0.0.0:9186.
cli-plant-metrics = Servir /metrics (Prometheus) y /healthz en esta dirección, p. ej. 0.0.0.0:9187.
plant-keys = Claves de planta
plant-keys-own = Clave de este PC:
plant-keys-own-tip = Sella las decisiones de lote y publicaciones de modelo firmadas en este PC. El administrador de cada estación confía en ella (Copiar, luego Confiar allí, o foodqc keys trust).
plant-keys-copy = Copiar clave
plant-keys-copy-tip = Copia la clave pública de este PC (base64) para pegarla en las estaciones.
plant-keys-copied = clave copiada
plant-keys-none = Ninguna clave confiable: esta estación rechaza toda decisión de lote y publicación de modelo de la planta.
plant-keys-trusted = Se aplican aquí las decisiones de lote y publicaciones de modelo de estas claves:
plant-keys-by = confiada por { $by }
plant-keys-revoke = Revocar
plant-keys-revoke-confirm = Revocar: ¿seguro?
plant-keys-revoke-tip = Desde ahora se rechazan los mensajes de esta clave (administradores; auditado).
plant-keys-name = Nombre
plant-keys-name-hint = calidad-pc-2
plant-keys-key = Clave
plant-keys-key-hint = tal como la da Copiar clave en el PC que decide
plant-keys-not-a-key = no es una clave de planta: pegue el texto de 44 caracteres que copia el PC que decide
plant-keys-trust = Confiar en la clave
plant-keys-trust-tip = Las decisiones de lote y publicaciones de modelo que sella esta clave se aplican en esta estación desde ahora (administradores; auditado).
desk-plant-key-trusted = clave { $name } ({ $fingerprint }) confiable
desk-plant-key-revoked = clave { $name } ({ $fingerprint }) revocada
line-setup-kafka = Kafka de planta
line-setup-kafka-hint = HOST:9092
line-setup-kafka-tip = Cada inspección y entrada de auditoría va también al Kafka de la planta, por una bandeja de salida que espera mientras los brókers no están.
line-setup-kafka-ca = CA de Kafka
line-setup-kafka-ca-hint = /etc/foodqc/kafka-ca.pem
line-setup-kafka-ca-tip = La autoridad (archivo PEM) que firmó los certificados de los brókers: con ella los registros van por TLS, y un bróker cuyo certificado o nombre de host no coincide no recibe nada. Vacío: según FOODQC_KAFKA_CA / FOODQC_KAFKA_TLS, si no, sin cifrar.
status-plant = planta: { $pending } en espera, { $delivered } enviados
status-plant-tip = Registros en camino al Kafka de la planta: en espera en la bandeja de salida, y enviados desde el inicio.
status-plant-error = planta: { $error }
