import { BASE_URL } from '../constants';

export class WidgetsPage {
  visit() {
    cy.visit(BASE_URL + '/widgets?tab=1');
    return this;
  }

  getTagType() {
    return cy.get('div[data-cy="tag_type"]').contains('Shire');
  }

  getTagType2() {
    return cy.get('div[data-cy="tag_type"]').contains('Mordor');
  }

  getCountrySelect() {
    return cy.get('select[data-test="country"]');
  }

  getAgreeField() {
    return cy.get('#agree');
  }

  getGirisYapButton() {
    return cy.contains('button', 'Giriş Yap');
  }

  getP1() {
    return cy.get('body > p:nth-of-type(2)').first();
  }
}
