from django.utils import translation


class UserLanguageMiddleware:
    """Use the signed-in user's chosen language; otherwise LocaleMiddleware's choice stands."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)


class ApiKeyUseMiddleware:
    """Log every request made with an API key: key, endpoint, status, time (and counts if the view set any)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        api_key = getattr(request, "api_key", None)
        if api_key is not None:
            from .services import api_key_use_record

            api_key_use_record(key=api_key, method=request.method, path=request.path,
                               status=response.status_code, counts=getattr(request, "api_counts", None))
        return response
