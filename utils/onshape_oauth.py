"""OAuth 2 with Onshape through Authlib: the authorization URL, the code exchange and the
refresh_token grant (client id and secret in the form body, as Onshape documents)."""

from __future__ import annotations

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from utils.onshape_client import OnshapeSettings
from utils.onshape_errors import OnshapeNotConnectedError, OnshapeUnavailableError
from utils.onshape_tokens import Tokens


class OAuthRefused(Exception):
    """Onshape's token endpoint said no (an invalid or revoked code or grant)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class OnshapeOAuth:
    """Onshape's authorize and token endpoints for our OAuth app."""

    def __init__(self, settings: OnshapeSettings) -> None:
        self.settings = settings
        self.token_url = f"{settings.oauth_base}/oauth/token"

    def _session(self) -> OAuth2Session:
        return OAuth2Session(
            self.settings.client_id,
            self.settings.client_secret,
            scope=self.settings.scope,
            redirect_uri=self.settings.redirect_uri,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name
            default_timeout=self.settings.timeout,
        )

    def authorization_url(self, state: str) -> str:
        """Where the browser goes to let Onshape ask the user."""
        with self._session() as session:
            url, _state = session.create_authorization_url(
                f"{self.settings.oauth_base}/oauth/authorize", state=state
            )
        return url

    def exchange(self, code: str) -> Tokens:
        """authorization_code grant: the code from the callback for tokens."""
        with self._session() as session:

            def tokens() -> Tokens:
                return Tokens.from_response(dict(session.fetch_token(self.token_url, code=code)))

            return self._token_call(tokens)

    def refresh(self, refresh_token: str) -> Tokens:
        """refresh_token grant; Onshape may or may not hand out a new refresh token."""
        with self._session() as session:

            def tokens() -> Tokens:
                body = session.refresh_token(self.token_url, refresh_token=refresh_token)
                return Tokens.from_response(dict(body), previous_refresh=refresh_token)

            return self._token_call(tokens)

    @staticmethod
    def _token_call(call) -> Tokens:  # type: ignore[no-untyped-def]
        """The token endpoint's answer as Tokens; its refusals and failures as our errors (an
        answer without a usable access_token included: never a 500 at the callback)."""
        try:
            return call()
        except OAuthError as exc:
            raise OAuthRefused(str(exc.error or "invalid_grant")) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429 or status >= 500:
                raise OnshapeUnavailableError(
                    f"Onshape's sign-in service answered {status}", retry_after=30
                ) from None
            raise OAuthRefused(f"http_{status}") from None
        except requests.RequestException:
            raise OnshapeUnavailableError(
                "Onshape's sign-in service cannot be reached", retry_after=30
            ) from None
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            raise OnshapeUnavailableError(
                "Onshape's sign-in service sent an answer without a usable token", retry_after=30
            ) from None


def not_connected_after_refusal(error: OAuthRefused) -> OnshapeNotConnectedError:
    """The grant is gone (revoked, expired): the user must connect again."""
    return OnshapeNotConnectedError(
        f"Onshape refused the stored grant ({error.error}); connect again"
    )
