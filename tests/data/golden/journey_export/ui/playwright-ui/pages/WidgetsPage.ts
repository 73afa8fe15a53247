import type { Locator, Page } from '@playwright/test';
import { BASE_URL } from '../constants';

export class WidgetsPage {
  readonly page: Page;
  readonly tagType: Locator;
  readonly tagType2: Locator;
  readonly countrySelect: Locator;
  readonly agreeField: Locator;
  readonly girisYapButton: Locator;
  readonly p1: Locator;

  constructor(page: Page) {
    this.page = page;
    this.tagType = page.locator('div[data-cy="tag_type"]').getByText('Shire', { exact: true });
    this.tagType2 = page.locator('div[data-cy="tag_type"]').getByText('Mordor', { exact: true });
    this.countrySelect = page.locator('select[data-test="country"]');
    this.agreeField = page.locator('#agree');
    this.girisYapButton = page.getByRole('button', { name: 'Giriş Yap' });
    this.p1 = page.locator('body > p:nth-of-type(2)').first();
  }

  async goto() {
    await this.page.goto(BASE_URL + '/widgets?tab=1');
  }
}
