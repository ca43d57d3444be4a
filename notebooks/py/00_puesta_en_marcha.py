# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
# ---

# %% [markdown]
# # 00 · Puesta en marcha: el laboratorio, el reloj y los ejercicios
#
# Te damos la bienvenida al curso **Conectores avanzados: REST, GraphQL y SFTP**. Aquí
# aprenderás a escribir conectores de datos que sobreviven al mundo real: APIs que limitan el
# ritmo, servidores que fallan a ratos, tokens que caducan, páginas que cambian mientras las
# lees y ficheros que llegan a medio escribir.
#
# **Objetivos de esta lección**
#
# - Arrancar el laboratorio local con una línea y saber qué servicios trae.
# - Entender el **reloj virtual** y por qué hace que cada salida sea reproducible.
# - Hacer tu primera petición, leer sus cabeceras y consultar el diario del laboratorio.
# - Pedirle al laboratorio un fallo a medida.
# - Saber cómo se comprueban los ejercicios (`q1.check()`, `q1.hint()`, `q1.solution()`).
# - Montar el laboratorio para un aula entera.
#
# **Duración estimada:** 25 minutos.
#
# **Requisitos:** Python básico y saber qué es una petición HTTP.

# %% [markdown]
# ## 1. De dónde viene este curso
#
# El curso crece a partir de una lección de un solo cuaderno sobre conectores. Aquella lección
# nombraba buenas ideas (backoff exponencial, circuit breaker, paginación por cursor, OAuth2,
# validación de esquemas), pero sus celdas dependían de APIs públicas de internet y, cuando no
# había conexión, **devolvían datos inventados** sin avisar: el cuaderno "funcionaba" y lo que
# enseñaba era mentira.
#
# Aquí cada idea se construye a mano primero, se ejecuta contra servidores reales que corren en
# tu máquina y, cuando ya se entiende, se usa la versión de la biblioteca del curso
# (`connectors_lib`) o la de producción (stamina, tenacity, urllib3, Authlib, paramiko...).
#
# | Lección | Tema |
# |---|---|
# | **00** | Puesta en marcha (estás aquí) |
# | [01](01_rest_resiliente.ipynb) | REST resiliente: timeouts, reintentos, backoff, Retry-After, circuit breaker |
# | [02](02_paginacion_incremental.ipynb) | Paginación e ingesta incremental |
# | [03](03_validacion_esquemas.ipynb) | Validación de esquemas |
# | 04 | Autenticación y OAuth2 *(en preparación)* |
# | 05 | GraphQL *(en preparación)* |
# | 06 | SFTP *(en preparación)* |
# | 07 | Proyecto integrador *(en preparación)* |

# %% [markdown]
# ## 2. Arrancar el laboratorio
#
# La primera celda de cada lección hace siempre lo mismo: importa lo necesario, fija cómo se
# muestran las tablas y los gráficos, y arranca el laboratorio con
# `mock_servers.start(seed=42)`.
#
# - Los servidores escuchan en `127.0.0.1`, en puertos que elige el sistema operativo.
# - Corren en hilos de este mismo proceso y **no escriben nada** en tus celdas.
# - `start` es idempotente: llamarlo dos veces devuelve el mismo laboratorio.
# - La semilla (`seed=42`) fija los datos: los mismos pedidos, clientes y productos cada vez.

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
import requests

import mock_servers
from connectors_lib.clock import VirtualClock

pd.set_option("display.max_columns", 20)
pd.set_option("display.width", 120)
pd.set_option("display.max_colwidth", 60)
plt.rcParams.update({"figure.figsize": (8, 3.5), "figure.dpi": 100})
# %matplotlib inline

lab = mock_servers.start(seed=42)
lab

# %% [markdown]
# El objeto `lab` tiene lo que necesitas para conectarte. Los puertos cambian en cada
# ejecución, así que en las lecciones **nunca los imprimimos**: usamos `lab.base_url` y
# compañía directamente.
#
# | Atributo | Qué es |
# |---|---|
# | `lab.base_url` | raíz HTTP: API REST en `/api/v1`, catálogo público en `/entries`, documentación en `/docs` |
# | `lab.graphql_url` | endpoint GraphQL |
# | `lab.token_url` | endpoint de tokens OAuth2 |
# | `lab.api_key`, `lab.headers()` | tu clave de API y la cabecera `X-API-Key` lista para usar |
# | `lab.env()` | las variables de entorno que leía la lección original (`API_BASE_URL`, `API_KEY`, `GQL_URL`, `OAUTH_TOKEN_URL`, `OAUTH_CLIENT_ID`...) |
# | `lab.clock` | el reloj compartido (virtual en los cuadernos) |
# | `lab.faults` | el controlador de fallos inyectados |
# | `lab.journal` | el diario con cada petición que recibió el laboratorio |
#
# Una costumbre que conviene adquirir desde hoy: **los secretos no se imprimen**. Ni siquiera
# los del laboratorio. Si necesitas comprobar que una clave está cargada, muestra su longitud o
# su principio.

# %%
original_vars = ["API_BASE_URL", "API_KEY", "GQL_URL", "OAUTH_TOKEN_URL"]
print("lab.env() trae las variables de la lección original:",
      all(name in lab.env() for name in original_vars))
print("API local en loopback:", lab.base_url.startswith("http://127.0.0.1:"))
print("Clave cargada:", lab.api_key[:4] + "…", f"({len(lab.api_key)} caracteres)")

# %% [markdown]
# ## 3. Tu primera petición
#
# Pedimos tres pedidos a la API REST. Fíjate en tres cosas de la respuesta:
#
# 1. el **código de estado** (200 = todo bien);
# 2. algunas **cabeceras**: `X-Request-ID` identifica la petición en los registros del
#    servidor; `X-RateLimit-Remaining` y `RateLimit` dicen cuánta cuota te queda
#    (`r=9;t=10` se lee "quedan 9 peticiones y la ventana se renueva en 10 s");
# 3. el **cuerpo JSON**: una página de datos (`data`) y el total de la colección (`total`).
#
# Siempre pasamos `timeout=`: `requests` **no tiene timeout por defecto** y, sin él, una
# petición puede quedarse colgada para siempre. Lo veremos a fondo en la lección 01.

# %%
response = requests.get(
    f"{lab.base_url}/api/v1/orders",
    params={"limit": 3},
    headers=lab.headers(),
    timeout=5,
)
print("Estado:", response.status_code)
for name in ("Content-Type", "X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining",
             "RateLimit-Policy", "RateLimit"):
    print(f"  {name}: {response.headers[name]}")

body = response.json()
print("Total de pedidos en la API:", body["total"])
pd.DataFrame(body["data"])[["id", "order_number", "country", "currency", "status", "total"]]

# %% [markdown]
# ¿Y si olvidas la clave? El laboratorio responde como una API seria: **401** con un cuerpo
# `application/problem+json` (RFC 9457) que explica, en español, qué pasó y qué hacer.

# %%
anonymous = requests.get(f"{lab.base_url}/api/v1/orders", params={"limit": 3}, timeout=5)
problem = anonymous.json()
print("Estado:", anonymous.status_code, "·", anonymous.headers["Content-Type"])
print("Título:", problem["title"])
print("Detalle:", problem["detail"])

# %% [markdown]
# ## 4. El reloj virtual: esperar sin esperar
#
# Un conector robusto **espera** mucho: entre reintentos, cuando la API le pide calma, hasta que
# caduca un token. Si una lección esperase de verdad, tardaría minutos y cada ejecución daría
# tiempos distintos.
#
# Por eso todo el curso mide el tiempo con un **reloj inyectado**:
#
# - en producción es un `SystemClock` (tiempo real, esperas reales);
# - en los cuadernos es un `VirtualClock`: `sleep(s)` **avanza el reloj `s` segundos al
#   instante** y anota la espera en `clock.waits`.
#
# El laboratorio lee **el mismo reloj** que tu cliente. Cuando tu código duerme sobre
# `lab.clock`, las ventanas del límite de peticiones, los `Retry-After` y las caducidades de los
# tokens pasan de verdad para el servidor, en microsegundos y siempre igual.

# %%
print(lab.clock)
print("Fecha del laboratorio:", pd.Timestamp(lab.clock.now(), unit="s", tz="UTC"))

began = time.perf_counter()
lab.clock.sleep(3600)  # una hora... virtual
real = time.perf_counter() - began

print("Fecha tras dormir una hora:", pd.Timestamp(lab.clock.now(), unit="s", tz="UTC"))
print("Esperas registradas:", lab.clock.waits)
print("¿Tardó menos de un segundo de verdad?", real < 1.0)

# %% [markdown]
# Veámoslo con el límite de peticiones. El laboratorio admite **10 peticiones cada 10 segundos**
# por clave (medidos en su reloj). Gastamos la cuota, la undécima recibe un **429 Too Many
# Requests** con `Retry-After`, dormimos en `lab.clock` exactamente lo que pide... y pasamos.

# %%
lab.clock.sleep(10)  # una ventana nueva: las peticiones de arriba ya no cuentan
statuses, remaining = [], []
for _ in range(11):
    r = requests.get(f"{lab.base_url}/api/v1/orders", params={"limit": 1},
                     headers=lab.headers(), timeout=5)
    statuses.append(r.status_code)
    remaining.append(int(r.headers["X-RateLimit-Remaining"]))
print("Estados:", statuses)
print("Retry-After del 429:", r.headers["Retry-After"], "s")

lab.clock.sleep(float(r.headers["Retry-After"]))
again = requests.get(f"{lab.base_url}/api/v1/orders", params={"limit": 1},
                     headers=lab.headers(), timeout=5)
statuses.append(again.status_code)
remaining.append(int(again.headers["X-RateLimit-Remaining"]))
print("Tras esperar en el reloj del laboratorio:", again.status_code)
print("Esperas registradas (la hora de antes, la ventana nueva y el Retry-After):",
      lab.clock.waits)

# %% [markdown]
# En un dibujo: la cuota baja con cada petición, la undécima choca contra el límite y, tras la
# espera (virtual), la ventana se renueva.

# %%
fig, ax = plt.subplots()
colors = ["tab:blue" if s == 200 else "tab:red" for s in statuses]
ax.bar(range(1, len(statuses) + 1), [max(q, 0.15) for q in remaining], color=colors)
for n, status in enumerate(statuses, start=1):
    ax.annotate(str(status), (n, 0), xytext=(0, -14), textcoords="offset points", ha="center",
                fontsize=8, color="tab:red" if status != 200 else "black")
ax.axvline(11.5, color="gray", linestyle="--")
ax.annotate(f"espera de {r.headers['Retry-After']} s\nen lab.clock", (11.5, 8), xytext=(-90, 0),
            textcoords="offset points", fontsize=9, arrowprops={"arrowstyle": "->"})
ax.set_xticks(range(1, len(statuses) + 1))
ax.set_ylim(-2.2, 10.5)
ax.set_xlabel("petición (debajo, su código de estado)")
ax.set_ylabel("X-RateLimit-Remaining")
ax.set_title("10 peticiones por ventana: la 11.ª recibe 429; tras esperar, cuota nueva", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. El diario del laboratorio
#
# Cada petición que responde el laboratorio queda en `lab.journal`: método, ruta, quién la hizo,
# estado, fallo inyectado y la hora **en el reloj del laboratorio**. Es la forma de ver lo que tu
# cliente hizo *de verdad* (cuántos reintentos, cuánto esperó), no lo que creías que hacía.
#
# La columna `latency_ms` es tiempo real de la máquina y cambia en cada ejecución: no la
# mostramos. La hora la convertimos en segundos desde la primera petición.

# %%
journal = pd.DataFrame(lab.journal.to_records())
journal["t (s)"] = journal["clock_time"] - journal["clock_time"].iloc[0]
journal[["seq", "request_id", "method", "path", "learner", "status", "t (s)"]].tail(6)

# %% [markdown]
# Se lee como una historia: las peticiones llegan a los 3610 s (la hora que dormimos en la
# sección 4 más la ventana nueva de 10 s), la 13 choca con el límite (429) y la 14 llega 10 s
# después, justo lo que pidió su `Retry-After`.

# %% [markdown]
# ## 6. Fallos a la carta
#
# Un buen conector se prueba contra fallos. El laboratorio los produce de dos maneras:
#
# - **Por petición**, con la cabecera `X-Mock-Fault`: elementos separados por `;`, como
#   `status=503;retry_after=2`.
# - **Por regla**, desde Python (`lab.faults.add(...)`) o por la API de administración:
#   "las próximas 2 peticiones a esta ruta fallan con 503, luego todo bien".
#
# Las dos maneras usan la misma gramática:
#
# | Elemento | Qué hace el laboratorio |
# |---|---|
# | `status=503` | responde ese código, con un cuerpo problem+json |
# | `retry_after=2` | añade `Retry-After: 2` a esa respuesta |
# | `delay=1.5` | tarda 1,5 s en responder, en el reloj del laboratorio |
# | `truncate=100` | corta el cuerpo a los 100 primeros bytes (JSON a medias) |
# | `malformed` | envía JSON inválido |
# | `cap=10` | devuelve como mucho 10 registros por página, sin avisar |

# %%
r = requests.get(f"{lab.base_url}/entries", headers={"X-Mock-Fault": "status=503;retry_after=2"},
                 timeout=5)
print("Con la cabecera:", r.status_code, "· Retry-After:", r.headers["Retry-After"])
print("Detalle:", r.json()["detail"])

lab.faults.add("status=503", path="/entries", times=2)
print("\nEscenario 'falla dos veces y luego funciona':",
      [requests.get(f"{lab.base_url}/entries", timeout=5).status_code for _ in range(3)])
lab.faults.reset()

# %% [markdown]
# Con `lab.faults.reset()` se borran las reglas. Hay más mandos que verás en su momento:
# `lab.journal.clear()` vacía el diario, `lab.data.reset()` devuelve los datos a su estado
# sembrado y `lab.clock.reset()` devuelve el reloj virtual a su fecha inicial.

# %% [markdown]
# ## 7. Cómo funcionan los ejercicios
#
# Cada lección trae ejercicios con corrección automática, en `connectors_lib.exercises`:
#
# | Llamada | Qué hace |
# |---|---|
# | `q1.check(respuesta)` | comprueba tu respuesta y dice ✅ o ❌ con el motivo |
# | `q1.hint()` | una pista que orienta sin dar la solución |
# | `q1.solution()` | imprime la solución de referencia |
#
# La respuesta suele ser una **función** que el corrector llama con casos que elige él (a veces
# contra el laboratorio). Pásala sin paréntesis: `q1.check(mi_funcion)`.
#
# En cada ejercicio verás tres celdas: la tuya (con `...` para rellenar), la pista y la
# solución ya ejecutada. Intenta resolverlo antes de mirar la tercera.

# %%
from connectors_lib.exercises.lesson00 import q1, q2, q3

# %% [markdown]
# ### Ejercicio 1 · ¿Cuántos pedidos hay?
#
# Escribe `count_orders(base_url, api_key)` que devuelva cuántos pedidos tiene la API (el total
# de la colección, no los de una página). Bonus: hazlo descargando **un solo** pedido.

# %%
def count_orders(base_url: str, api_key: str) -> int:
    ...  # tu código aquí


q1.check(count_orders)

# %%
q1.hint()

# %%
# Solución de referencia (q1.solution() la imprime)
def count_orders(base_url: str, api_key: str) -> int:
    """Total de pedidos que anuncia la API (pidiendo un solo registro)."""
    r = requests.get(f"{base_url}/api/v1/orders", params={"limit": 1},
                     headers={"X-API-Key": api_key}, timeout=5)
    r.raise_for_status()
    return r.json()["total"]


q1.check(count_orders)

# %% [markdown]
# ### Ejercicio 2 · Esperar sin esperar
#
# Escribe `staggered_wait(clock)` que espere 1, 2 y 4 segundos **sobre el reloj que recibe** y
# devuelva cuántos segundos pasaron según ese reloj. El corrector te da un `VirtualClock` nuevo
# y mira sus `waits`; si usas `time.sleep`, lo notará (y tardará 7 s de verdad).

# %%
def staggered_wait(clock: VirtualClock) -> float:
    ...  # tu código aquí


q2.check(staggered_wait)

# %%
q2.hint()

# %%
# Solución de referencia
def staggered_wait(clock: VirtualClock) -> float:
    """Espera 1, 2 y 4 s en `clock` y devuelve cuánto pasó según ese reloj."""
    start = clock.monotonic()
    for seconds in (1, 2, 4):
        clock.sleep(seconds)
    return clock.monotonic() - start


q2.check(staggered_wait)

# %% [markdown]
# ### Ejercicio 3 · Pedir un fallo a medida
#
# Construye el diccionario `headers` que, enviado al laboratorio, haga que responda **429 Too
# Many Requests** con `Retry-After: 5`. Después, si quieres, pruébalo tú con `requests.get`.

# %%
headers = ...  # tu diccionario aquí

q3.check(headers)

# %%
q3.hint()

# %%
# Solución de referencia
headers = {"X-Mock-Fault": "status=429;retry_after=5"}

q3.check(headers)
r = requests.get(f"{lab.base_url}/entries", headers=headers, timeout=5)
print("El laboratorio respondió", r.status_code, "con Retry-After:", r.headers["Retry-After"])

# %% [markdown]
# ## 8. El laboratorio en un aula
#
# En clase, el instructor arranca **un** laboratorio para toda la sala, con el reloj real:
#
# ```bash
# python -m mock_servers serve --host 0.0.0.0 --port 8000 --learners 20
# ```
#
# (`make serve` arranca lo mismo con los valores por defecto: solo en `127.0.0.1` y con una
# clave, útil para probarlo en tu máquina antes de clase.)
#
# - Imprime las URLs, el token de administración y **una clave de API por alumno**
#   (`alumno-01`, `alumno-02`...). Cada clave tiene su propio límite de peticiones y sus propios
#   escenarios de fallo, así que nadie molesta a nadie.
# - Con `--tls` sirve HTTPS con una CA desechable; `--no-sftp` omite el servidor SFTP.
# - El instructor inyecta fallos en vivo con la API de administración (cabecera
#   `X-Admin-Token`): `POST /__admin/faults` con `{"fault": "status=429;retry_after=5",
#   "path": "/api/v1/*"}` ("ahora la API os limita"), `GET /__admin/requests` para ver el
#   diario, `POST /__admin/reset` para volver al estado sembrado.
# - Con `--port 0` elige un puerto libre. Las claves de los alumnos no sirven para la API de
#   administración.
#
# Cada alumno apunta su cuaderno a ese servidor con las variables de `lab.env()` (o las que
# imprime el instructor). Ojo: con el reloj real, las esperas son de verdad; las salidas de los
# cuadernos guardados se generaron con el reloj virtual.

# %% [markdown]
# ## Resumen
#
# - `lab = mock_servers.start(seed=42)` arranca REST, OAuth2, GraphQL y SFTP en tu máquina, sin
#   internet, en silencio y siempre con los mismos datos.
# - El **reloj virtual** (`lab.clock`) hace que las esperas sean instantáneas y reproducibles, y
#   lo comparten cliente y servidor.
# - `lab.journal` cuenta lo que tu cliente hizo de verdad; `lab.faults` y `X-Mock-Fault`
#   producen los fallos contra los que te vas a entrenar.
# - Los secretos no se imprimen; los timeouts no se omiten.
# - Ejercicios: `qN.check(respuesta)`, `qN.hint()`, `qN.solution()`.
#
# ---
#
# **Siguiente lección →** [01 · REST resiliente](01_rest_resiliente.ipynb)
