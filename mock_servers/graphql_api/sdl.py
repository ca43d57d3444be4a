"""The lab's GraphQL schema, in SDL: the shop (authenticated) and the countries (public).

The countries part copies the public API of the original lesson
(countries.trevorblades.com): same type, field and argument names and types
(``continent(code: ID!)``, ``countries(filter: CountryFilterInput = {})``...),
minus ``states``, ``subdivisions`` and ``awsRegion``, which need datasets the
lab does not carry.

The shop part follows the Relay connection spec: ``first`` is required
(1..100), ``after`` takes an opaque cursor, ``pageInfo`` says whether there is
more. Some order fields are nullable on purpose: the seeded data holds a few
broken records, and a client must cope with ``null`` plus an error at that path.
"""

from __future__ import annotations

__all__ = ["SDL"]

SDL = '''
"""Consultas: la tienda (requiere X-API-Key o un token con scope graphql) y los países (público)."""
type Query {
  "Un cliente por id."
  customer(id: ID!): Customer
  "Clientes en orden de id. `first` es obligatorio (1..100)."
  customers(first: Int!, after: String, country: String, segment: String): CustomerConnection!
  "Un pedido por id."
  order(id: ID!): Order
  "Pedidos en orden de id. `first` es obligatorio (1..100)."
  orders(first: Int!, after: String, status: OrderStatus, country: String): OrderConnection!
  "Un producto por id."
  product(id: ID!): Product
  "Productos en orden de id. `first` es obligatorio (1..100)."
  products(first: Int!, after: String, category: String): ProductConnection!
  "Presupuesto de puntos de esta identidad, al estilo de la API GraphQL de GitHub."
  rateLimit: RateLimit!

  continent(code: ID!): Continent
  continents(filter: ContinentFilterInput = {}): [Continent!]!
  countries(filter: CountryFilterInput = {}): [Country!]!
  country(code: ID!): Country
  language(code: ID!): Language
  languages(filter: LanguageFilterInput = {}): [Language!]!
}

"""Escrituras (requieren autenticación)."""
type Mutation {
  "Cambia el estado de un pedido; los errores de negocio vuelven en `errors`."
  updateOrderStatus(input: UpdateOrderStatusInput!): UpdateOrderStatusPayload!
}

enum OrderStatus {
  PENDING
  PAID
  SHIPPED
  DELIVERED
  CANCELLED
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type Customer {
  id: ID!
  name: String!
  email: String!
  "Código ISO del país (tal como está en los datos)."
  countryCode: String!
  "El país, o null si el código no existe."
  country: Country
  city: String!
  segment: String!
  createdAt: String!
  "Pedidos del cliente, en orden de id."
  orders(first: Int!, after: String): OrderConnection
}

type CustomerEdge {
  cursor: String!
  node: Customer!
}

type CustomerConnection {
  edges: [CustomerEdge!]!
  pageInfo: PageInfo!
  totalCount: Int!
}

type Order {
  id: ID!
  number: String!
  status: OrderStatus
  total: Float
  currency: String
  countryCode: String!
  createdAt: String!
  updatedAt: String!
  customer: Customer
  items: [OrderItem!]!
}

type OrderItem {
  sku: String!
  quantity: Int!
  unitPrice: Float!
  product: Product
}

type OrderEdge {
  cursor: String!
  node: Order!
}

type OrderConnection {
  edges: [OrderEdge!]!
  pageInfo: PageInfo!
  totalCount: Int!
}

type Product {
  id: ID!
  sku: String!
  name: String!
  category: String!
  priceUsd: Float!
  active: Boolean!
}

type ProductEdge {
  cursor: String!
  node: Product!
}

type ProductConnection {
  edges: [ProductEdge!]!
  pageInfo: PageInfo!
  totalCount: Int!
}

input UpdateOrderStatusInput {
  orderId: ID!
  status: OrderStatus!
  clientMutationId: String
}

type UserError {
  field: [String!]
  message: String!
}

type UpdateOrderStatusPayload {
  order: Order
  errors: [UserError!]!
  clientMutationId: String
}

type RateLimit {
  "Puntos que costó esta consulta."
  cost: Int!
  limit: Int!
  remaining: Int!
  used: Int!
  "Cuándo se renueva la ventana (ISO 8601, UTC, en el reloj del laboratorio)."
  resetAt: String!
  "Nodos que la consulta podría devolver como máximo."
  nodeCount: Int!
}

type Continent {
  code: ID!
  countries: [Country!]!
  name: String!
}

type Country {
  capital: String
  code: ID!
  continent: Continent!
  currencies: [String!]!
  currency: String
  emoji: String!
  emojiU: String!
  languages: [Language!]!
  name: String!
  native: String!
  phone: String!
  phones: [String!]!
}

type Language {
  code: ID!
  countries: [Country!]!
  name: String!
  native: String!
  rtl: Boolean!
}

input StringQueryOperatorInput {
  eq: String
  in: [String!]
  ne: String
  nin: [String!]
  regex: String
}

input ContinentFilterInput {
  code: StringQueryOperatorInput
}

input CountryFilterInput {
  code: StringQueryOperatorInput
  continent: StringQueryOperatorInput
  currency: StringQueryOperatorInput
  name: StringQueryOperatorInput
}

input LanguageFilterInput {
  code: StringQueryOperatorInput
}
'''
