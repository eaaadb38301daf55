// The documents this client sends. GraphQL Code Generator reads them here
// and writes their types, and their hashes, to src/gql/.
import { graphql } from "./gql/index.js";

/** The account the API key belongs to, and its connected numbers. */
export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      id
      name
      numbers(first: 20, status: [CONNECTED]) {
        edges {
          node {
            id
            phone
          }
        }
      }
    }
  }
`);

export const SendTextMutation = graphql(`
  mutation SendText($numberId: ID!, $to: PhoneNumber!, $text: String!) {
    sendMessage(input: { numberId: $numberId, to: $to, text: $text }) {
      message {
        id
        status
      }
      userErrors {
        code
        field
        message
      }
    }
  }
`);

export const CreateWebhookMutation = graphql(`
  mutation CreateWebhook($url: String!) {
    createWebhookEndpoint(input: { url: $url, types: [MESSAGE_STATUS] }) {
      webhookEndpoint {
        id
      }
      secret
      userErrors {
        code
        field
        message
      }
    }
  }
`);

export const DeleteWebhookMutation = graphql(`
  mutation DeleteWebhook($id: ID!) {
    deleteWebhookEndpoint(id: $id) {
      userErrors {
        code
        message
      }
    }
  }
`);

/** Status changes of the number's messages, live. */
export const EventsSubscription = graphql(`
  subscription Events($numberId: ID!) {
    events(types: [MESSAGE_STATUS], numberId: $numberId) {
      __typename
      cursor
      type
      ... on MessageStatusEvent {
        messageId
        status
      }
    }
  }
`);
